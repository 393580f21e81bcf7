/**
 * The stack's name: the app deploys it under this name, the AWS commands read its outputs by it,
 * and the local pipeline finds its template by it. A module of its own so that none of them loads
 * more than this constant.
 */
export const STACK_NAME = 'S3FargatePipeline';
