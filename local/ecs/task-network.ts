import { asArray, type LocalDeployment, refOf } from '../cloudformation/template';
import type { RunTaskParameters } from './task-description';

/** The part of RunTask that places a Fargate task's network interface. */
export interface AwsvpcConfiguration {
  readonly Subnets?: readonly string[];
  readonly SecurityGroups?: readonly string[];
  /** RunTask's default, when absent, is DISABLED. */
  readonly AssignPublicIp?: string;
}

/** The interface endpoints through which a task in a subnet without a route out pulls and logs. */
const PULL_ENDPOINTS = ['ecr.api', 'ecr.dkr', 'logs'];

/**
 * Whether a Fargate task can reach ECR (to pull its image) and CloudWatch Logs from where RunTask
 * places it, read from the template's subnets, routes and endpoints, as the local pipeline deploys
 * it. Fargate gives a task's network interface a public IP only when RunTask asks for one
 * (`AssignPublicIp: ENABLED`): a subnet's MapPublicIpOnLaunch does not apply to it. So in a subnet
 * whose only way out is an internet gateway, a task without one never starts, as on AWS.
 */
export class TaskNetwork {
  private constructor(
    /** Each subnet of the template, by the value RunTask names it by: how it reaches the internet. */
    private readonly routeOut: ReadonlyMap<string, 'internet-gateway' | 'nat' | 'none'>,
    private readonly endpointServices: ReadonlySet<string>,
    private readonly region: string,
  ) {}

  static fromDeployment(deployment: LocalDeployment): TaskNetwork {
    const properties = (type: string) =>
      deployment.resourcesOfType(type).map(([id, resource]) => [id, resource.Properties ?? {}] as const);
    const defaultRoutes = new Map<string, 'internet-gateway' | 'nat'>();
    for (const [, route] of properties('AWS::EC2::Route')) {
      if (route.DestinationCidrBlock !== '0.0.0.0/0') continue;
      const table = refOf(route.RouteTableId);
      if (table) defaultRoutes.set(table, route.NatGatewayId ? 'nat' : 'internet-gateway');
    }
    const routeOut = new Map<string, 'internet-gateway' | 'nat' | 'none'>();
    for (const [id] of properties('AWS::EC2::Subnet')) routeOut.set(deployment.ref(id), 'none');
    for (const [, association] of properties('AWS::EC2::SubnetRouteTableAssociation')) {
      const subnet = refOf(association.SubnetId);
      const table = refOf(association.RouteTableId);
      if (subnet && table) routeOut.set(deployment.ref(subnet), defaultRoutes.get(table) ?? 'none');
    }
    const endpointServices = new Set(
      properties('AWS::EC2::VPCEndpoint')
        .filter(([, endpoint]) => endpoint.VpcEndpointType === 'Interface')
        .map(([, endpoint]) => String(deployment.resolve(endpoint.ServiceName))),
    );
    return new TaskNetwork(routeOut, endpointServices, deployment.region);
  }

  /**
   * Why a task RunTask places with `parameters` could not pull its image, as the task's
   * StoppedReason says it; undefined when it can, or when its subnets are not the template's (an
   * existing VPC's routes are its owner's).
   */
  pullProblem(parameters: RunTaskParameters & { NetworkConfiguration?: unknown }): string | undefined {
    const network = (parameters.NetworkConfiguration as { AwsvpcConfiguration?: AwsvpcConfiguration })
      ?.AwsvpcConfiguration;
    const subnets = asArray(network?.Subnets).map(String);
    const routes = subnets.map((subnet) => this.routeOut.get(subnet));
    if (routes.length === 0 || routes.includes(undefined)) return undefined;
    const publicIp = network?.AssignPublicIp === 'ENABLED';
    const endpoints = PULL_ENDPOINTS.every((s) =>
      this.endpointServices.has(`com.amazonaws.${this.region}.${s}`),
    );
    if (routes.every((route) => route === 'nat' || (route === 'internet-gateway' && publicIp) || endpoints)) {
      return undefined;
    }
    return (
      'ResourceInitializationError: unable to pull secrets or registry auth: The task cannot pull registry ' +
      `auth from Amazon ECR: There is a connection issue between the task and Amazon ECR. Check your task ` +
      `network configuration. (subnets ${subnets.join(', ')}, AssignPublicIp ${network?.AssignPublicIp ?? 'DISABLED'})`
    );
  }
}
