/** Turns zod issues into one sentence per problem that says which field and what to fix. */
import type * as z from '../zod';

export const describeZodError = (error: { issues: readonly z.core.$ZodIssue[] }): string =>
  error.issues
    .slice(0, 5)
    .map((issue) => {
      const field = issue.path.length ? issue.path.map(String).join('.') : 'body';
      if (issue.code === 'unrecognized_keys')
        return `${field}: unknown field(s) ${issue.keys.map((k) => `"${k.slice(0, 40)}"`).join(', ')}; remove them`;
      return `${field}: ${issue.message}`;
    })
    .join('; ');
