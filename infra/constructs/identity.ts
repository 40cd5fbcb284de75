/** The default identity provider: a Cognito user pool whose users' `sub`s own the connections, and its app client. */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { UserPoolClient } from 'aws-cdk-lib/aws-cognito';
import { AccountRecovery, FeaturePlan, Mfa, UserPool } from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';

/**
 * The scope Cognito puts in every access token from its user-pool API sign-in (SRP, admin auth).
 * ID tokens carry no `scope`, so requiring it on a route admits access tokens only.
 */
export const cognitoAccessTokenScope = 'aws.cognito.signin.user.admin';

export class Identity extends Construct {
  readonly userPool: UserPool;
  readonly client: UserPoolClient;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const pool = new UserPool(this, 'UserPool', {
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      autoVerify: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      featurePlan: FeaturePlan.ESSENTIALS,
      // Users' `sub`s own the stored connections: the pool outlives the stack.
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(pool).acknowledge({
      id: 'AwsSolutions-COG2',
      reason:
        'MFA is offered (TOTP) but not forced: the default pool is a starting point whose sign-in policy belongs to the client app, and the bank itself applies strong customer authentication to every consent. Bring your own issuer with -c jwtIssuer for stricter policies.',
    });
    Validations.of(pool).acknowledge({
      id: 'AwsSolutions-COG8',
      reason:
        'The Plus feature plan (threat protection) is billed per active user; the default pool stays on Essentials and operators opt in by changing the plan.',
    });
    this.userPool = pool;
    this.client = pool.addClient('AppClient', {
      generateSecret: false,
      // SRP for apps; admin password auth so operators can mint a token with the AWS CLI (README).
      authFlows: { userSrp: true, adminUserPassword: true },
      disableOAuth: true,
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
    });
  }

  /** Not `userPoolProviderUrl`: CloudFormation's ProviderURL has no scheme, and the authorizer compares `iss` exactly. */
  get issuer(): string {
    return `https://cognito-idp.${this.userPool.stack.region}.amazonaws.com/${this.userPool.userPoolId}`;
  }
}
