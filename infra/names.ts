/** Names the stacks and constructs share: the service, and the fixed logical ids `sam local` relies on. */
import type { FunctionName } from '../functions/routes';

export const serviceName = 'truelayer-connections';

export const pascal = (name: string): string => name.charAt(0).toUpperCase() + name.slice(1);

/**
 * The CloudFormation logical id of a function, fixed so `sam local invoke <id>` and the
 * `--env-vars` file keep working across changes to the construct tree.
 */
export const functionLogicalId = (name: FunctionName | string): string => `${pascal(name)}Function`;

/** The alias API Gateway calls and CodeDeploy shifts traffic on. */
export const liveAliasName = 'live';
