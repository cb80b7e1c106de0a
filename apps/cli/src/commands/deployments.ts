import { Command, Option } from 'clipanion';
import { EnvCommand } from '../base-command';
import { isBundleId, isName } from './validators';

export class DeploymentsCreateCommand extends EnvCommand {
  static override paths = [['op', 'deployments', 'create']];
  static override usage = Command.Usage({
    category: 'Deployments',
    description: "Create a customer's deployment of a bundle in the environment",
    examples: [
      ['Deploy hello-worker as support in local', '$0 op deployments create support --bundle hello-worker'],
      [
        'For a tenant and billing customer in zain-prod',
        '$0 op deployments create support --bundle hello-worker --tenant zain --billing-customer zain-telecom --env zain-prod',
      ],
    ],
  });
  name = Option.String({ name: 'deployment', validator: isName });
  bundle = Option.String('--bundle', { required: true, validator: isBundleId, description: 'Bundle id' });
  tenant = Option.String('--tenant', { validator: isName, description: 'Tenant (default: default)' });
  billingCustomer = Option.String('--billing-customer', { description: 'Billing customer (default: the tenant)' });
  async run() {
    return (await import('../ops/deployments')).createDeployment(this.io(), {
      name: this.name,
      bundleId: this.bundle,
      tenant: this.tenant ?? 'default',
      billingCustomer: this.billingCustomer ?? this.tenant ?? 'default',
    });
  }
}

export class DeploymentsListCommand extends EnvCommand {
  static override paths = [['op', 'deployments', 'list']];
  static override usage = Command.Usage({
    category: 'Deployments',
    description: 'List the deployments of the environment',
    examples: [['Deployments in local', '$0 op deployments list']],
  });
  async run() {
    return (await import('../ops/deployments')).listDeployments(this.io());
  }
}

export class DeploymentsGetCommand extends EnvCommand {
  static override paths = [['op', 'deployments', 'get']];
  static override usage = Command.Usage({
    category: 'Deployments',
    description: 'Show one deployment with its revisions and traffic',
    examples: [['Show support', '$0 op deployments get support']],
  });
  name = Option.String({ name: 'deployment', validator: isName });
  async run() {
    return (await import('../ops/deployments')).getDeployment(this.io(), this.name);
  }
}
