// greentic.secrets.file: the secrets env-pack of the local environment.

export { createSecretsPack, PACK_ID, secretsPath } from './secrets-file';
