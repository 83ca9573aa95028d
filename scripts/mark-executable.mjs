// tsc writes its output without the executable bit. The `gatehouse` bin (dist/src/main.js) needs
// it: npm sets it only when it links a bin, so after `rm -rf dist && npm run build` an existing
// `npx gatehouse` link would fail with "Permission denied".
import { chmodSync } from 'node:fs';

chmodSync(new URL('../dist/src/main.js', import.meta.url), 0o755);
