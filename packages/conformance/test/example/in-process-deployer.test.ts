import { describeDeployer } from '@greentic/conformance/vitest';
import { createFixtures } from './in-process-fixtures';

describeDeployer({ name: 'example.deployer.in-process', create: createFixtures });
