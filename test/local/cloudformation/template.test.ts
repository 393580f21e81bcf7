import { readFileSync } from 'node:fs';

import {
  type CfnTemplate,
  refuseCustomerManagedKeys,
  TemplateError,
} from '../../../local/cloudformation/template';
import { synthesizedTemplate } from '../support/synthesized-template';

describe('refuseCustomerManagedKeys', () => {
  test('the default template (no customer managed key) runs locally', async () => {
    const path = await synthesizedTemplate();
    const template = JSON.parse(readFileSync(path, 'utf8')) as CfnTemplate;
    expect(() => refuseCustomerManagedKeys(template, path)).not.toThrow();
  });

  test('a template with a key (encryption=kms) is refused in one line naming the key and the fix', () => {
    // (the local run has no KMS: it would never fail on a permission the key withholds)
    const template: CfnTemplate = {
      Resources: { EncryptionKey3A692D6E: { Type: 'AWS::KMS::Key', Properties: {} } },
    };
    expect(() => refuseCustomerManagedKeys(template, 'cdk.out/S3FargatePipeline.template.json')).toThrow(
      new TemplateError(
        "cdk.out/S3FargatePipeline.template.json encrypts with a customer managed KMS key (EncryptionKey3A692D6E, from -c encryption=kms), which the local run does not emulate; run it without -c encryption=kms (test/lib/iam/ evaluates the key's permissions)",
      ),
    );
  });
});
