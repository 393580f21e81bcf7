import { isPlainObject } from '../cloudformation/intrinsics';
import { type LocalDeployment, TemplateError } from '../cloudformation/template';

/**
 * Step Functions' slice of the template: the state machine definitions (resolved), the backfill
 * state machine (the one with a Distributed Map over the bucket listing), and the ASL walks the
 * local runner needs.
 */

/** An Amazon States Language definition (JSON). */
export type StateMachineDefinition = Record<string, unknown> & { readonly States: Record<string, AslState> };
export type AslState = Record<string, unknown> & { readonly Type: string };

/** A state machine of the template, as deployed locally. */
export interface LocalStateMachineResource {
  readonly logicalId: string;
  readonly arn: string;
  readonly definition: StateMachineDefinition;
  /** StateMachineType. @default 'STANDARD' */
  readonly type?: 'STANDARD' | 'EXPRESS';
  /** RoleArn, resolved locally. */
  readonly roleArn?: string;
}

export interface BackfillStateMachine extends LocalStateMachineResource {
  /** The Map state whose `ItemReader` is `s3:listObjectsV2`, resolved. */
  readonly mapStateName: string;
  readonly map: AslState;
}

/** The state machine `logicalId` with its definition resolved. */
export function loadStateMachine(deployment: LocalDeployment, logicalId: string): LocalStateMachineResource {
  const properties = deployment.template.Resources[logicalId]?.Properties;
  const definitionString = deployment.resolve(properties?.DefinitionString ?? properties?.Definition);
  const definition: unknown =
    typeof definitionString === 'string' ? JSON.parse(definitionString) : definitionString;
  if (!isPlainObject(definition) || !isPlainObject(definition.States)) {
    throw new TemplateError(`State machine ${logicalId} has no DefinitionString with States`);
  }
  const roleArn = deployment.resolve(properties?.RoleArn);
  return {
    logicalId,
    arn: deployment.ref(logicalId),
    definition: definition as StateMachineDefinition,
    type: properties?.StateMachineType === 'EXPRESS' ? 'EXPRESS' : 'STANDARD',
    roleArn: typeof roleArn === 'string' ? roleArn : undefined,
  };
}

/** Every state machine of the template, as deployed locally. */
export function loadStateMachines(deployment: LocalDeployment): LocalStateMachineResource[] {
  return deployment
    .resourcesOfType('AWS::StepFunctions::StateMachine')
    .map(([logicalId]) => loadStateMachine(deployment, logicalId));
}

/** The state machine (at most one) with a Map state whose ItemReader lists the bucket (`s3:listObjectsV2`). */
export function findBackfillStateMachine(deployment: LocalDeployment): BackfillStateMachine | undefined {
  const found: BackfillStateMachine[] = [];
  for (const [logicalId] of deployment.resourcesOfType('AWS::StepFunctions::StateMachine')) {
    const machine = loadStateMachine(deployment, logicalId);
    forEachState(machine.definition, (state, name) => {
      const reader = state.ItemReader;
      if (
        state.Type === 'Map' &&
        isPlainObject(reader) &&
        typeof reader.Resource === 'string' &&
        /:states:::s3:listObjectsV2$/.test(reader.Resource)
      ) {
        found.push({ ...machine, mapStateName: name, map: state });
      }
    });
  }
  if (found.length > 1) {
    throw new TemplateError(
      `The template has ${found.length} Map states that list the bucket (s3:listObjectsV2 ItemReader: ` +
        `${found.map((f) => `${f.logicalId}.${f.mapStateName}`).join(', ')}); the local backfill runs exactly one`,
    );
  }
  return found[0];
}

/** Calls `visit` for every state of `machine` and of the machines nested in its Map and Parallel states. */
export function forEachState(machine: unknown, visit: (state: AslState, name: string) => void): void {
  if (!isPlainObject(machine) || !isPlainObject(machine.States)) return;
  for (const [name, state] of Object.entries(machine.States)) {
    if (!isPlainObject(state)) continue;
    visit(state as AslState, name);
    forEachState(state.ItemProcessor, visit);
    forEachState(state.Iterator, visit);
    if (Array.isArray(state.Branches)) state.Branches.forEach((branch) => forEachState(branch, visit));
  }
}
