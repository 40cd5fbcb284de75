/** Builds the CDK app: the data stack and the service stack, configured from context, with cdk-nag's AwsSolutions checks. */

import type { AppProps } from 'aws-cdk-lib';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { deployOptionsFrom } from './deploy-options';
import { ConnectionsDataStack, ConnectionsStack, dataStackName } from './stack';

export interface CreateAppOptions extends AppProps {
  /**
   * Run cdk-nag (AwsSolutions) as a policy-validation plugin, so `cdk synth` and `cdk deploy` stop
   * on an unacknowledged finding. Default true; tests turn it off and call `validateScope` themselves.
   */
  nag?: boolean;
}

export const createApp = (options: CreateAppOptions = {}): { app: App; stack: ConnectionsStack; dataStack: ConnectionsDataStack } => {
  const { nag = true, ...appProps } = options;
  const app = new App(appProps);
  const deployOptions = deployOptionsFrom(app.node);
  // Environment-agnostic: region and account come from the CLI's profile at deploy time, so
  // synth looks nothing up and gives the same template offline.
  const dataStack = new ConnectionsDataStack(app, dataStackName(deployOptions.stackName), { options: deployOptions });
  const stack = new ConnectionsStack(app, deployOptions.stackName, { options: deployOptions, data: dataStack });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, dataStack };
};
