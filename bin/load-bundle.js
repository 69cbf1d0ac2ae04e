/**
 * Loading the bundled command line (scripts/bundle.js) with its V8 code
 * cache: the bundle is CommonJS so that it can be compiled by vm.Script, the
 * one compiler Node 20 lets us hand a code cache to; with the cache V8
 * deserialises the compiled functions instead of parsing and compiling
 * about half a megabyte of JavaScript at every start.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import vm from 'node:vm';

const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) { ';
const WRAP_TAIL = '\n});';

/** Compiles the bundle at `file` (its source given), with a code cache when one is given and V8 accepts it. */
export function compileBundle(file, source, cachedData) {
  const script = new vm.Script(WRAP_HEAD + source + WRAP_TAIL, {
    filename: file,
    cachedData,
    // scripts/bundle.js turns import() into require(); should one be left, resolve it as the main program would.
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  return {
    /** True when a cache was given and V8 refused it (another Node version or V8 flags): compiled from source then. */
    cacheRejected: cachedData !== undefined && script.cachedDataRejected === true,
    run() {
      const module = { exports: {} };
      script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
      return module.exports;
    },
    /** The code cache, with every function compiled so far. */
    cache() {
      return script.createCachedData();
    },
  };
}

/** The bundle's exports, compiled from its code cache when there is a usable one. */
export function loadBundle(file) {
  let cachedData;
  try {
    cachedData = readFileSync(`${file}.cache`);
  } catch {
    /* no cache: compile from source */
  }
  return compileBundle(file, readFileSync(file, 'utf8'), cachedData).run();
}
