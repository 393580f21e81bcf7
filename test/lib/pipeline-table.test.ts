import { RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';

import { PipelineTable } from '../../lib/pipeline-table';
import { freshStack, only } from './support/constructs';

describe('PipelineTable built alone', () => {
  test('on demand, keyed by two strings, with point-in-time recovery, its removal policy and no TTL unless asked', () => {
    const stack = freshStack();
    new PipelineTable(stack, 'Table', {
      partitionKey: 'pk',
      sortKey: 'sk',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const table = only(stack, 'AWS::DynamoDB::Table');
    expect(table.Properties).toEqual({
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    expect(table.DeletionPolicy).toBe('Delete');
  });

  test("a TTL attribute and the stack's key, when given: encrypted with that key", () => {
    const stack = freshStack();
    const key = new kms.Key(stack, 'Key');
    new PipelineTable(stack, 'Table', {
      partitionKey: 'bucket',
      sortKey: 'objectVersion',
      timeToLiveAttribute: 'expiresAt',
      encryptionKey: key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const table = only(stack, 'AWS::DynamoDB::Table');
    expect(table.Properties).toMatchObject({
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: {
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: { 'Fn::GetAtt': [stack.getLogicalId(key.node.defaultChild as kms.CfnKey), 'Arn'] },
      },
    });
    expect(table.DeletionPolicy).toBe('Retain');
  });
});
