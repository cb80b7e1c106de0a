import type { GreenticStore } from '@greentic/store-contract';
import { CliError } from './cli-error';

export async function openLocalStore(_file: string): Promise<GreenticStore> {
  throw new CliError('unavailable', 'the local store is not wired yet', { code: 'unavailable' });
}

export async function openRemoteStore(_url: string, _token: string): Promise<GreenticStore> {
  throw new CliError('unavailable', 'the remote store is not wired yet', { code: 'unavailable' });
}
