/**
 * Gradual deployments: CodeDeploy shifts each function's `live` alias to a new version (10 % for
 * five minutes, then the rest, by default) and rolls back when one of that function's alarms fires.
 */
import { Validations } from 'aws-cdk-lib';
import type { IAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { ILambdaDeploymentConfig } from 'aws-cdk-lib/aws-codedeploy';
import { LambdaApplication, LambdaDeploymentConfig, LambdaDeploymentGroup } from 'aws-cdk-lib/aws-codedeploy';
import type { Alias } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { pascal, serviceName } from '../names';

export type DeploymentStyle = 'canary' | 'allAtOnce';

export const deploymentConfigs: Record<DeploymentStyle, ILambdaDeploymentConfig> = {
  canary: LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES,
  allAtOnce: LambdaDeploymentConfig.ALL_AT_ONCE,
};

export interface DeploymentsProps {
  style: DeploymentStyle;
  functions: { name: string; alias: Alias; alarms: IAlarm[] }[];
}

export class Deployments extends Construct {
  readonly application: LambdaApplication;
  readonly groups: Record<string, LambdaDeploymentGroup> = {};

  constructor(scope: Construct, id: string, props: DeploymentsProps) {
    super(scope, id);
    this.application = new LambdaApplication(this, 'Application');
    for (const { name, alias, alarms } of props.functions) {
      const group = new LambdaDeploymentGroup(this, `${pascal(name)}Deployment`, {
        application: this.application,
        alias,
        deploymentConfig: deploymentConfigs[props.style],
        alarms,
        autoRollback: { failedDeployment: true, stoppedDeployment: true, deploymentInAlarm: true },
      });
      Validations.of(group).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]',
        reason: `CodeDeploy's service role for Lambda uses AWS's AWSCodeDeployRoleForLambdaLimited, the narrowest policy CodeDeploy supports (alias updates, hooks named CodeDeployHook_*, alarm reads); ${serviceName} grants nothing beyond it.`,
      });
      this.groups[name] = group;
    }
  }
}
