/** A Lambda `Context` as the Node.js runtime builds it for one invocation. */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

export interface LambdaFunctionInfo {
  functionName: string;
  /** Seconds, as configured on the function. */
  timeoutSeconds: number;
  memoryMb: number;
}

export interface LambdaContextOptions extends LambdaFunctionInfo {
  region: string;
  accountId: string;
  /** Wall-clock ms of the invocation start: the deadline is real time, never the adjustable clock. */
  startedAt: number;
  /** Fixed per function instance, like a container's log stream. */
  logStreamName: string;
}

export const newLogStreamName = (startedAt: number): string => {
  const day = new Date(startedAt).toISOString().slice(0, 10).replaceAll('-', '/');
  return `${day}/[$LATEST]${randomBytes(16).toString('hex')}`;
};

const legacyCallbackRemoved = (name: string) => () => {
  throw new Error(`context.${name}() is not available: return a value or a Promise from the handler`);
};

export const createLambdaContext = (options: LambdaContextOptions): Context => {
  const deadline = options.startedAt + options.timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: options.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${options.region}:${options.accountId}:function:${options.functionName}`,
    memoryLimitInMB: String(options.memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${options.functionName}`,
    logStreamName: options.logStreamName,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: legacyCallbackRemoved('done'),
    fail: legacyCallbackRemoved('fail'),
    succeed: legacyCallbackRemoved('succeed'),
  };
};
