import AjvCompiler from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

/** What fastify's `schemaController.compilersFactory` option takes. */
export type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;

type Validate = ((data: unknown, context?: unknown) => unknown) & { errors?: unknown; schemaEnv?: unknown };
type ValidatorCompiler = (route: unknown) => Validate;
type Serialize = (doc: unknown) => string;
type SerializerCompiler = (route: unknown) => Serialize;

/**
 * A route's validator, compiled by fastify's own compiler (Ajv) the first time a request needs it rather than
 * when the app gets ready. `schemaEnv` tells fastify to pass the parent data (as it does for an Ajv validator,
 * so coercion of a root value works); `errors` is the compiled validator's, copied after each call.
 */
export function lazyValidator(compile: () => Validate): Validate {
  let validate: Validate | undefined;
  const lazy: Validate = (data, context) => {
    validate ??= compile();
    const result = validate(data, context);
    lazy.errors = validate.errors;
    return result;
  };
  lazy.errors = null;
  lazy.schemaEnv = true;
  return lazy;
}

/** A response serializer compiled the first time a reply needs it. */
export function lazySerializer(compile: () => Serialize): Serialize {
  let serialize: Serialize | undefined;
  return (doc) => (serialize ??= compile())(doc);
}

/**
 * Fastify's `schemaController.compilersFactory` with its default compilers (Ajv, fast-json-stringify), each
 * route's schemas compiled on first use: compiling the coordinator's ~40 route schemas when the app gets ready
 * took ~0.25 s of CPU before `listen` (docs/performance.md#listening-first). The validators and serializers
 * are exactly the default ones; a schema that does not compile fails its first request (500) instead of the start.
 */
export function lazySchemaCompilers(): CompilersFactory {
  const buildValidator = (AjvCompiler as unknown as () => (schemas: unknown, options: unknown) => ValidatorCompiler)();
  const buildSerializer = (SerializerSelector as unknown as () => (schemas: unknown, options: unknown) => SerializerCompiler)();
  const factory = {
    buildValidator: (schemas: unknown, options: unknown): ValidatorCompiler => {
      let compiler: ValidatorCompiler | undefined;
      return (route) => lazyValidator(() => (compiler ??= buildValidator(schemas, options))(route));
    },
    buildSerializer: (schemas: unknown, options: unknown): SerializerCompiler => {
      let compiler: SerializerCompiler | undefined;
      return (route) => lazySerializer(() => (compiler ??= buildSerializer(schemas, options))(route));
    },
  };
  // Fastify's own types name Ajv's function types; ours are what fastify calls (lib/validation.js, lib/reply.js).
  return factory as unknown as CompilersFactory;
}
