/** `npm start`: the whole service on this machine. Ports from PORT, TRUELAYER_SIM_PORT, DYNAMODB_PORT. */
import { existsSync } from 'node:fs';
import { defaultDemoRoot } from './demo-static';
import type { LocalStack } from './stack';
import { PortInUseError, startLocalStack } from './stack';

// The AWS SDK warns once per process that its future releases need Node 22; on the Node 20 dev
// machines this stack targets, that notice would open every `npm start`. Set the variable to "false" to see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const fail = (message: string): never => {
  console.error(message);
  process.exit(1);
};

const portFrom = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return fail(`${name} must be a port number from 0 to 65535, not "${raw}"`);
  return port;
};

const describe = (stack: LocalStack): string => {
  const demo = existsSync(defaultDemoRoot) ? `${stack.apiUrl}/` : '(no local/demo folder yet)';
  const persisted = process.env.DYNAMODB_PATH ? `persisted in ${process.env.DYNAMODB_PATH}` : 'in memory';
  const json = `-H 'content-type: application/json'`;
  return [
    '',
    `  Local API         ${stack.apiUrl}`,
    `  Demo page         ${demo}`,
    `  TrueLayer sim     ${stack.simUrl}  (stats: ${stack.simUrl}/__sim/stats)`,
    `  DynamoDB          ${stack.dynamoEndpoint}  table ${stack.tableName}, ${persisted}`,
    `                    aws dynamodb scan --table-name ${stack.tableName} --endpoint-url ${stack.dynamoEndpoint} --region ${process.env.AWS_REGION ?? 'eu-west-2'}`,
    ...(stack.secretsExtensionUrl
      ? [`  Secrets           ${stack.secretsExtensionUrl}  (stand-in for the Parameters and Secrets extension, reading Secrets Manager)`]
      : []),
    '',
    '  First calls:',
    `    TOKEN=$(curl -s -X POST ${stack.apiUrl}/__local/token ${json} -d '{"sub":"alice"}' | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/')`,
    `    curl -s -X POST ${stack.apiUrl}/connections -H "authorization: Bearer $TOKEN" ${json} -d '{}'`,
    `    curl -s ${stack.apiUrl}/connections -H "authorization: Bearer $TOKEN"`,
    `    curl -s -X POST ${stack.apiUrl}/__local/clock ${json} -d '{"advance_seconds":3600}'   (runs the lifecycle worker on the way)`,
    `    curl -s ${stack.apiUrl}/__local/events                (lifecycle events; webhook deliveries at /__local/webhook)`,
    '',
    '  Open the auth_link in a browser and sign in to the mock bank as john / doe; you land on the demo',
    '  page with ?connection_id=ID&completion_code=CODE. Finish it as the same user:',
    `    curl -s -X POST ${stack.apiUrl}/connections/ID/complete -H "authorization: Bearer $TOKEN" ${json} -d '{"completion_code":"CODE"}'`,
    `  Stop with Ctrl-C (or kill -TERM ${process.pid}).`,
    '',
  ].join('\n');
};

const main = async (): Promise<void> => {
  const stack = await startLocalStack({
    port: portFrom('PORT', 3000),
    simPort: portFrom('TRUELAYER_SIM_PORT', 3100),
    dynamoPort: portFrom('DYNAMODB_PORT', 8000),
  }).catch((error: unknown) => {
    if (error instanceof PortInUseError) return fail(error.message);
    return fail(`local stack failed to start: ${error instanceof Error ? error.message : String(error)}`);
  });

  console.log(describe(stack));
  console.log(`truelayer-connections local stack ready at ${stack.apiUrl} (pid ${process.pid})`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      console.error(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
    console.log(`\n${signal}: stopping the local stack…`);
    stack.close().then(
      () => {
        console.log('local stack stopped');
        process.exit(0);
      },
      (error: unknown) => fail(`stopping failed: ${error instanceof Error ? error.message : String(error)}`),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
};

await main();
