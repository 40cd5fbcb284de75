/** Entry of the section 3 child process: `node --import tsx bench/remote-calls-child.ts <requests> <warmup> <path>`. */
import { countRemoteCalls, reportFromChild } from './remote-calls';

const [requests = '20', warmup = '3', path = 'accounts'] = process.argv.slice(2);

try {
  reportFromChild(await countRemoteCalls({ requests: Number(requests), warmup: Number(warmup), path }));
  process.exit(0);
} catch (error) {
  console.error(`remote-calls child failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
