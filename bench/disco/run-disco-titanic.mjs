#!/usr/bin/env node
// Time DISCO's titanic federation (server + N users in one process, exactly like
// DISCO's cli/src/cli.ts) on the tfjs wasm backend, using DISCO's *built* modules
// unmodified. Prints ONE JSON line on stdout.
//
// usage: node run-disco-titanic.mjs --users N --rounds R
//          [--roundDuration 2] [--batchSize 30] [--disco /work/disco] [--cliSleep 1000]
//
// The parent process spawns a child (same script, --child) and measures wall time from
// spawn to child exit ("process launch to exit"). The child mirrors cli.ts:
//   import "@tensorflow/tfjs-node" (the wasm shim), new Server().serve(undefined, titanic),
//   getTaskData(task) from cli/dist/data.js (reads ../datasets/titanic_train.csv), then per
//   user: getAggregator + getClient + new Disco(...) and `for await (disco.trainByRound(data))`,
//   then the CLI's 1 s grace sleep, disco.close(), server.close().
// Task overrides as in cli/src/args.ts: batchSize, roundDuration, epochs = rounds*roundDuration.
//
// wallSeconds = launch to exit (natural exit, as DISCO's CLI); wallSecondsToClose = launch
// to the moment the child printed its result after server.close().
//
// Round timing: a DISCO round = `roundDuration` local epochs followed by one federated
// exchange (send weights, server waits for ALL connected users, mean, broadcast).
// The client emits status 'local training' when a round begins and 'updating model'
// when local training ends and the upload starts. Round r (r>0) spans from the moment the
// last user begins round r to the moment the last user begins round r+1 (for the last
// round: the moment the last user's trainByRound generator finishes, i.e. got the final
// global weights). Round 0 starts when the N users are launched (includes connect and
// initial-model download, also given alone as connectMs). sum(roundMs) = training phase.
// trainMs[r] = slowest user's local-training part of round r (begin -> upload).
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

function parseArgs(argv) {
  const o = { users: 2, rounds: 5, roundDuration: 2, batchSize: 30, disco: "/work/disco", cliSleep: 1000, child: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--child") o.child = true;
    else if (a.startsWith("--")) {
      const k = a.slice(2);
      const v = argv[++i];
      if (!(k in o)) throw new Error(`unknown option ${a}`);
      o[k] = typeof o[k] === "number" ? Number(v) : v;
    }
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const MARK = "@@DISCO_RESULT@@";

if (!opts.child) {
  // ---- parent: wall clock from launch to exit of the child process ----
  const self = fileURLToPath(import.meta.url);
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, [self, ...process.argv.slice(2), "--child"], {
    cwd: path.join(opts.disco, "cli"), // data.ts reads ../datasets/titanic_train.csv
    env: { ...process.env, DISCO_SHIM_QUIET: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let tResult;
  child.stdout.on("data", (d) => {
    out += d;
    if (tResult === undefined && out.includes(MARK) && out.slice(out.indexOf(MARK)).includes("\n"))
      tResult = process.hrtime.bigint();
  });
  child.stderr.on("data", (d) => (err += d));
  const code = await new Promise((res) => child.on("exit", (c, s) => res(c ?? s)));
  const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const line = out.split("\n").find((l) => l.startsWith(MARK));
  if (code !== 0 || line === undefined) {
    process.stderr.write(out.slice(-4000) + err.slice(-4000));
    console.error(`child failed (exit ${code})`);
    process.exit(1);
  }
  const r = JSON.parse(line.slice(MARK.length));
  const result = {
    users: opts.users,
    rounds: opts.rounds,
    wallSeconds: Number(wallSeconds.toFixed(3)),
    // launch -> server closed and result printed. DISCO's process then lingers until a
    // 15 s timer armed at connect (discojs client/utils.ts timeout(), never cleared) fires.
    wallSecondsToClose: Number((Number(tResult - t0) / 1e9).toFixed(3)),
    // child's user+sys CPU up to the result (less sensitive to machine load than wall time)
    cpuSeconds: r.cpuSeconds,
    roundMs: r.roundMs,
    trainMs: r.trainMs,
    connectMs: r.connectMs,
    finalAccuracy: r.finalAccuracy,
    finalLoss: r.finalLoss,
    finalTrainAccuracy: r.finalTrainAccuracy,
    backend: r.backend,
    tfjs: r.tfjs,
    phasesMs: r.phasesMs,
    model: r.model,
    task: r.task,
    disco: r.disco,
  };
  console.log(JSON.stringify(result));
  process.exit(0);
}

// ---- child: the federation itself ----
const now = () => performance.now();
const tLaunch = 0; // performance.now() origin is this process' start
const disco = path.resolve(opts.disco);
const imp = (p) => import(pathToFileURL(path.join(disco, p)).href);

// Resolve packages from DISCO's node_modules (this script lives outside the monorepo).
const { createRequire } = await import("node:module");
const req = createRequire(path.join(disco, "cli", "package.json"));
const resolveEsm = (name) => pathToFileURL(req.resolve(name)).href;

await import(resolveEsm("@tensorflow/tfjs-node")); // the shim: sets the wasm backend
const tf = await import(resolveEsm("@tensorflow/tfjs"));
const discojs = await import(resolveEsm("@epfml/discojs"));
const { Server } = await import(resolveEsm("server"));
const { getTaskData } = await imp("cli/dist/data.js");
const tImported = now();

const { Disco, aggregator: aggregators, client: clients, defaultTasks } = discojs;
const base = defaultTasks.titanic;
const provider = {
  getTask() {
    const task = base.getTask();
    task.trainingInformation.batchSize = opts.batchSize;
    task.trainingInformation.roundDuration = opts.roundDuration;
    task.trainingInformation.epochs = opts.rounds * opts.roundDuration;
    return task;
  },
  getModel: base.getModel,
};

const task = provider.getTask();
const [server, url] = await new Server().serve(undefined, provider);
const data = await getTaskData(task);
const tServerUp = now();

const users = Array.from({ length: opts.users }, (_, u) => ({ u, begin: [], upload: [], logs: [], statuses: [], done: NaN }));

async function runUser(user) {
  const aggregator = aggregators.getAggregator(task);
  const client = clients.getClient(task.trainingInformation.scheme, url, task, aggregator);
  const d = new Disco(task, client, { scheme: task.trainingInformation.scheme, logger: { success() {}, error: console.error } });
  d.on("status", (s) => {
    // the client re-emits its previous status after a "not enough participants" wait:
    // only the first 'local training' of a round counts as the round's start
    if (s === "local training" && user.begin.length === user.upload.length) user.begin.push(now());
    else if (s === "updating model" && user.upload.length < user.begin.length) user.upload.push(now());
    user.statuses.push(s);
  });
  for await (const roundLogs of d.trainByRound(data)) user.logs.push(roundLogs);
  user.done = now();
  await new Promise((res) => setTimeout(res, opts.cliSleep)); // as cli.ts: "Wait for other peers to finish"
  await d.close();
}

await Promise.all(users.map(runUser));
const tTrained = Math.max(...users.map((x) => x.done));
await new Promise((resolve, reject) => {
  server.once("close", resolve);
  server.close(reject);
});
const tClosed = now();

for (const x of users)
  if (x.begin.length !== opts.rounds || x.logs.length !== opts.rounds)
    throw new Error(`user ${x.u}: ${x.begin.length} round starts, ${x.logs.length} round logs (expected ${opts.rounds})`);

const maxAt = (f) => Math.max(...users.map(f));
// round 0 starts when the users are launched (so it includes Disco construction, the
// websocket connect and the initial-model download); round r>0 when the last user begins it.
const B = Array.from({ length: opts.rounds }, (_, r) => (r === 0 ? tServerUp : maxAt((x) => x.begin[r])));
B.push(tTrained);
const roundMs = B.slice(0, -1).map((b, r) => Number((B[r + 1] - b).toFixed(1)));
const trainMs = Array.from({ length: opts.rounds }, (_, r) => Number(maxAt((x) => x.upload[r] - x.begin[r]).toFixed(1)));

// DISCO validates on the held-out 20% (validationSplit) at the end of every local epoch,
// i.e. BEFORE the round's aggregation; report the last epoch of the last round, user 0.
const lastRound = users[0].logs.at(-1);
const lastEpoch = lastRound.epochs.last();

const cpu = process.cpuUsage();
const result = {
  cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
  roundMs,
  trainMs,
  connectMs: Number((maxAt((x) => x.begin[0]) - tServerUp).toFixed(1)),
  finalAccuracy: lastEpoch.validation?.accuracy,
  finalLoss: lastEpoch.validation?.loss,
  finalTrainAccuracy: lastEpoch.training.accuracy,
  backend: tf.getBackend(),
  tfjs: tf.version.tfjs,
  phasesMs: {
    imports: Number((tImported - tLaunch).toFixed(1)),
    serverAndData: Number((tServerUp - tImported).toFixed(1)),
    training: Number((tTrained - tServerUp).toFixed(1)),
    closeIncl1sSleep: Number((tClosed - tTrained).toFixed(1)),
  },
  model:
    "titanic: tf.sequential dense(5->124 relu, leCunNormal) -> dense(64 relu) -> dense(32 relu) -> dense(1 sigmoid); " +
    "adam (lr 0.001), binaryCrossentropy; inputs Age,SibSp,Parch,Fare,Pclass (empty->0, no scaling); label Survived",
  task: {
    scheme: task.trainingInformation.scheme,
    aggregation: task.trainingInformation.aggregationStrategy,
    minNbOfParticipants: task.trainingInformation.minNbOfParticipants,
    batchSize: task.trainingInformation.batchSize,
    roundDuration: task.trainingInformation.roundDuration,
    epochs: task.trainingInformation.epochs,
    validationSplit: task.trainingInformation.validationSplit,
  },
  disco: disco,
};
console.log(MARK + JSON.stringify(result));
if (process.env.DISCO_DEBUG_HANDLES) {
  const t = now();
  const show = () => console.error(`+${(now() - t).toFixed(0)}ms active:`, process.getActiveResourcesInfo().join(","));
  show();
  const iv = setInterval(show, 2000); iv.unref();
  process.on("exit", () => console.error(`exit +${(now() - t).toFixed(0)}ms`));
}
