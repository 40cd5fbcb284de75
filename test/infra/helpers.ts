/** Synthesizing the stack for tests and reading the template: resources by type, policies, env. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { createApp } from '../../infra/create-app';
import type { ConnectionsDataStack, ConnectionsStack } from '../../infra/stack';

/** The feature flags and settings of cdk.json, which the CLI passes to the app and `new App()` alone would not read. */
export const cdkJsonContext = (): Record<string, unknown> =>
  (JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> }).context;

export interface SynthesizedStack {
  template: Template;
  json: TemplateJson;
  templateFile: string;
}

export interface Synthesized {
  app: App;
  /** The service (stateless) stack; its template is `template`/`json`. */
  stack: ConnectionsStack;
  /** The data (stateful) stack. */
  dataStack: ConnectionsDataStack;
  data: SynthesizedStack;
  assembly: CloudAssembly;
  template: Template;
  json: TemplateJson;
  /** Path of the synthesized template file (for cfn-lint and sam). */
  templateFile: string;
}

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Metadata?: Record<string, unknown>;
}

export interface TemplateJson {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Description?: string; Export?: unknown }>;
  Rules?: Record<string, unknown>;
}

/**
 * Synthesizes the app with this context, as `cdk synth` would (nag off: the tests run it
 * themselves). `bundle: false` skips esbuild (the functions get a placeholder asset) for tests that
 * only read the template shape.
 */
export const synth = (context: Record<string, unknown> = {}, { bundle = true }: { bundle?: boolean } = {}): Synthesized => {
  const outdir = mkdtempSync(join(tmpdir(), 'tlc-cdk-'));
  const { app, stack, dataStack } = createApp({
    nag: false,
    // CDK's built-in template validation spends ~15 s starting its engine; cfn-lint covers it here.
    builtinCloudFormationValidation: false,
    outdir,
    // The CLI turns asset metadata on; `sam local` finds each function's code through it.
    context: {
      ...cdkJsonContext(),
      'aws:cdk:enable-asset-metadata': true,
      ...context,
      ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
    },
  });
  const assembly = app.synth();
  const read = (name: string): SynthesizedStack => {
    const artifact = assembly.getStackByName(name);
    const json = artifact.template as TemplateJson;
    return { template: Template.fromJSON(json), json, templateFile: join(assembly.directory, artifact.templateFile) };
  };
  const data = read(dataStack.stackName);
  const service = read(stack.stackName);
  const json = inlineCrossStackReferences(service.json, data.json);
  return { app, stack, dataStack, assembly, json, template: Template.fromJSON(json), templateFile: service.templateFile, data };
};

/**
 * The service template with every reference to the data stack (CDK's `Fn::GetStackOutput`, or an
 * `Fn::ImportValue` of its export) replaced by the output's value there (`{Ref: X}`), so assertions
 * can follow a grant or a variable to the data stack's resource by its logical id.
 */
export const inlineCrossStackReferences = (json: TemplateJson, data: TemplateJson): TemplateJson => {
  const outputs = data.Outputs ?? {};
  const byExport = new Map(
    Object.values(outputs).flatMap((output) =>
      (output.Export as { Name?: string } | undefined)?.Name ? [[(output.Export as { Name: string }).Name, output.Value]] : [],
    ),
  );
  const visit = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(visit);
    if (typeof value !== 'object' || value === null) return value;
    const record = value as Record<string, unknown>;
    const stackOutput = record['Fn::GetStackOutput'] as { OutputName?: string } | undefined;
    if (stackOutput?.OutputName && outputs[stackOutput.OutputName]) return outputs[stackOutput.OutputName]!.Value;
    const imported = record['Fn::ImportValue'];
    if (typeof imported === 'string' && byExport.has(imported)) return byExport.get(imported);
    return Object.fromEntries(Object.entries(record).map(([key, child]) => [key, visit(child)]));
  };
  return visit(json) as TemplateJson;
};

export const resourcesOfType = (json: TemplateJson, type: string): [string, CfnResource][] =>
  Object.entries(json.Resources).filter(([, resource]) => resource.Type === type);

/** `{Ref: X}` or `{Fn::GetAtt: [X, …]}` → X; anything else → undefined. */
export const referencedId = (value: unknown): string | undefined => {
  if (typeof value !== 'object' || value === null) return undefined;
  const ref = (value as { Ref?: unknown }).Ref;
  if (typeof ref === 'string') return ref;
  const getAtt = (value as { 'Fn::GetAtt'?: unknown })['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  return undefined;
};

/** Every logical id a value refers to, however deeply nested in intrinsics. */
export const referencedIds = (value: unknown): string[] => {
  const direct = referencedId(value);
  if (direct) return [direct];
  if (Array.isArray(value)) return value.flatMap(referencedIds);
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(referencedIds);
  return [];
};

export interface Grant {
  actions: string[];
  /** Logical ids the statement's resources refer to, or the literal strings. */
  resources: string[];
}

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** The Allow statements of every policy attached to a role (by the role's logical id). */
export const grantsOfRole = (json: TemplateJson, roleId: string): Grant[] =>
  resourcesOfType(json, 'AWS::IAM::Policy')
    .filter(([, policy]) => asArray(policy.Properties?.Roles as unknown[]).some((role) => referencedId(role) === roleId))
    .flatMap(([, policy]) => asArray((policy.Properties?.PolicyDocument as { Statement: unknown[] }).Statement))
    .map((statement) => statement as { Effect: string; Action: string | string[]; Resource: unknown })
    .filter((statement) => statement.Effect === 'Allow')
    .map((statement) => ({
      actions: asArray(statement.Action),
      resources: asArray(statement.Resource).flatMap((resource) => (typeof resource === 'string' ? [resource] : referencedIds(resource))),
    }));

/** Whether any grant allows `action` on a resource referring to `resourceId`. */
export const allows = (grants: Grant[], action: string, resourceId: string): boolean =>
  grants.some((grant) => grant.actions.includes(action) && grant.resources.includes(resourceId));

/** The logical id of the one resource of `type` whose id starts with `prefix`. */
export const logicalIdOf = (json: TemplateJson, type: string, prefix: string): string => {
  const matches = resourcesOfType(json, type).filter(([id]) => id.startsWith(prefix));
  if (matches.length !== 1)
    throw new Error(`expected one ${type} starting with ${prefix}, found ${matches.map(([id]) => id).join(', ') || 'none'}`);
  return matches[0]![0];
};
