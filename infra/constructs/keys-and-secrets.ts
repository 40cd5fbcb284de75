/**
 * The token key (envelope data keys, usable only with a row's encryption context), the TrueLayer
 * client-credentials secret (created with a placeholder, or an existing one imported), the webhook
 * signing secret and the account-hash key.
 */
import { RemovalPolicy, SecretValue, Validations } from 'aws-cdk-lib';
import { AnyPrincipal, Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { KMS_ENCRYPTION_CONTEXT_KEYS } from '../../shared/crypto/data-keys';
import { PLACEHOLDER } from '../../shared/truelayer/client-credentials';
import { serviceName } from '../names';

/** What the token key is used for; none of them may run without the row's encryption context. */
export const tokenKeyCryptoActions = [
  'kms:Decrypt',
  'kms:Encrypt',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
] as const;

/**
 * How the webhook signing secret is generated. Standard Webhooks reads a secret (without or with `whsec_`)
 * as base64: letters and digits only, in a length divisible by 4, decode as they are.
 */
export const webhookSecretGeneration = { passwordLength: 48, excludePunctuation: true, includeSpace: false } as const;

export interface KeysAndSecretsProps {
  /** An existing client-credentials secret (complete ARN); absent: one is created with placeholders. */
  clientSecretArn?: string | undefined;
  /** The customer-managed key an imported secret is encrypted with, if not the AWS managed one. */
  secretKmsKeyArn?: string | undefined;
}

export class KeysAndSecrets extends Construct {
  readonly tokenKey: Key;
  readonly clientSecret: ISecret;
  /** The key the functions must decrypt the client secret with, when it is a customer-managed one. */
  readonly clientSecretKey: IKey | undefined;
  /** HMAC key for Standard Webhooks signatures of connection events. */
  readonly webhookSecret: Secret;
  /** HMAC key that hashes account numbers so duplicate connections can be found without storing the numbers. */
  readonly accountHashSecret: Secret;

  constructor(scope: Construct, id: string, props: KeysAndSecretsProps) {
    super(scope, id);
    this.tokenKey = new Key(this, 'TokenKey', {
      description: `${serviceName}: envelope data keys for stored TrueLayer tokens`,
      enableKeyRotation: true,
      // Losing this key makes every stored token unreadable: it outlives the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    requireRowEncryptionContext(this.tokenKey);

    this.clientSecret = props.clientSecretArn
      ? Secret.fromSecretCompleteArn(this, 'ClientSecret', props.clientSecretArn)
      : this.createClientSecret();
    this.clientSecretKey = props.secretKmsKeyArn ? Key.fromKeyArn(this, 'ClientSecretKey', props.secretKmsKeyArn) : undefined;

    this.webhookSecret = new Secret(this, 'WebhookSecret', {
      description: `${serviceName}: HMAC key that signs connection-event webhooks (Standard Webhooks)`,
      // 48 base64 characters: a 36-byte key.
      generateSecretString: webhookSecretGeneration,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.webhookSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The webhook signing key is shared with the receiving app, which must switch to a new key in step with us; rotating it on a schedule would break every receiver. Operators rotate it by hand with the receiver (README "Operating it").',
    });

    // Used as an HMAC-SHA256 key string as is. Replacing it would make every stored hash unmatchable,
    // so it outlives the stack and is never rotated.
    this.accountHashSecret = new Secret(this, 'AccountHashSecret', {
      description: `${serviceName}: HMAC key that hashes account numbers to find duplicate connections (never rotate: stored hashes depend on it)`,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.accountHashSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The account-hash key keys the stored hashes of account numbers; a new key would make every stored hash unmatchable and let duplicate connections through, so it is deliberately never rotated.',
    });
  }

  private createClientSecret(): Secret {
    const secret = new Secret(this, 'ClientSecret', {
      description: 'TrueLayer client credentials as {"client_id","client_secret"}; set them with aws secretsmanager put-secret-value',
      // A placeholder the service reads as "not configured", never a credential. CloudFormation
      // writes it only on create: later deploys leave the value put by the operator alone.
      secretObjectValue: {
        client_id: SecretValue.unsafePlainText(PLACEHOLDER),
        client_secret: SecretValue.unsafePlainText(PLACEHOLDER),
      },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The secret holds the TrueLayer client_id/client_secret, which only TrueLayer Console can issue or rotate; there is no API a rotation Lambda could call. Operators rotate in the Console and put the new value (the functions re-read it within minutes).',
    });
    return secret;
  }
}

/**
 * Key policy: no cryptographic use of the key without an encryption context of exactly the row's
 * keys (connection id and owner), whoever the caller is. The grants ask the same; this holds even
 * for a role someone later gives kms:* by mistake.
 */
const requireRowEncryptionContext = (key: Key): void => {
  const deny = (sid: string, conditions: Record<string, Record<string, unknown>>) =>
    key.addToResourcePolicy(
      new PolicyStatement({
        sid,
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: [...tokenKeyCryptoActions],
        resources: ['*'],
        conditions,
      }),
    );
  for (const name of KMS_ENCRYPTION_CONTEXT_KEYS) {
    deny(`DenyWithoutContext${name.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase())}`, {
      Null: { [`kms:EncryptionContext:${name}`]: 'true' },
    });
  }
  deny('DenyOtherContextKeys', { 'ForAnyValue:StringNotEquals': { 'kms:EncryptionContextKeys': [...KMS_ENCRYPTION_CONTEXT_KEYS] } });
};
