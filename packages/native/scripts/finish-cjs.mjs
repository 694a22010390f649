// After `tsc -p tsconfig.cjs.json`: marks dist/cjs as CommonJS and gives it the package root
// from __dirname (the ESM build reads import.meta.url, which CommonJS does not have).
import { writeFileSync } from 'node:fs';
writeFileSync(new URL('../dist/cjs/package.json', import.meta.url), '{ "type": "commonjs" }\n');
writeFileSync(
  new URL('../dist/cjs/package-root.js', import.meta.url),
  "'use strict';\nObject.defineProperty(exports, '__esModule', { value: true });\nexports.packageRoot = require('node:path').join(__dirname, '..', '..');\n",
);
