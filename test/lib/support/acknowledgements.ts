/** Acknowledgements (Validations.of(x).acknowledge), read back from construct metadata. */
import { Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

export interface Acknowledgement {
  /** Path of the construct the acknowledgement was recorded on; it covers that subtree. */
  readonly path: string;
  /** The rule id as acknowledged, without aws-cdk-lib's `Annotation::` namespace. */
  readonly id: string;
  readonly reason: unknown;
}

/**
 * `Validations.acknowledge` records each acknowledgement as construct metadata of type
 * `Validations.ACKNOWLEDGED_RULES_METADATA_KEY` with data `{ [qualifiedId]: reason }`, the
 * id prefixed `Annotation::` (see aws-cdk-lib/core/lib/validation/validations.js); cdk-nag's
 * NagPack.isAcknowledged reads the same metadata up the construct tree.
 */
export function acknowledgementsIn(scope: IConstruct): Acknowledgement[] {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, unknown>).map(([qualifiedId, reason]) => ({
          path: construct.node.path,
          id: qualifiedId.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}
