/**
 * Stands in for `@aws-sdk/credential-provider-node` inside the Lambda bundles (an esbuild alias, see
 * infra/bundle.ts). Lambda always puts the function role's credentials in the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), and so does `sam local invoke`,
 * which is also the first place the default chain looks. The rest of that chain (SSO, ini files,
 * web identity, IMDS, the nested STS/SSO clients) is ~80 KiB of bundle and cold start that a
 * function never uses.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';

export const defaultProvider = (init: Parameters<typeof fromEnv>[0] = {}) => fromEnv(init);
