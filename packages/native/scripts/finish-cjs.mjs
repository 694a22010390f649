// After `tsc -p tsconfig.cjs.json`: marks dist/cjs as CommonJS and gives it the package root
// from __dirname (the ESM build reads import.meta.url, which CommonJS does not have).
import { writeFileSync } from 'node:fs';
writeFileSync(new URL('../dist/cjs/package.json', import.meta.url), '{ "type": "commonjs" }\n');
writeFileSync(
  new URL('../dist/cjs/package-root.js', import.meta.url),
  "'use strict';\nObject.defineProperty(exports, '__esModule', { value: true });\nexports.packageRoot = require('node:path').join(__dirname, '..', '..');\n",
);
// `node --require @mptcp/native/register`: the hook is an ES module with a top-level await (the
// fetch dispatcher is installed before the app runs), which require() cannot load (Node 20 says
// ERR_REQUIRE_ASYNC_MODULE or ERR_REQUIRE_ESM). The exports map's "require" condition lands here: a
// clear error naming the flag that works.
writeFileSync(
  new URL('../dist/cjs/register.js', import.meta.url),
  `'use strict';
const err = new Error(
  '@mptcp/native/register is an ES module: load it with --import, not --require ' +
    '(node --import @mptcp/native/register app.js, or NODE_OPTIONS=--import=@mptcp/native/register)',
);
err.code = 'ERR_MPTCP_REGISTER_REQUIRE';
throw err;
`,
);
