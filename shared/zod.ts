/**
 * The one zod the service uses: `zod/mini` (a fraction of the classic build in the Lambda bundles,
 * and less cold start) with English messages, so validation errors still say what to fix. Import it
 * as a namespace (`import * as z from '../zod'`) so the bundler keeps only what is used.
 */
import { config } from 'zod/mini';
// The one locale, by its own path: the 'zod/locales' index would bundle all of them.
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';
