// The postfix-accounts.cf line docker-mailserver reads: `address|{SHA512-CRYPT}$6$<salt>$<hash>`,
// the same scheme its own `setup email add` (doveadm pw -s SHA512-CRYPT) writes.
import { encrypt } from "unixcrypt";

/**
 * crypt(3)'s salt alphabet; SHA512-CRYPT uses at most 16 salt characters. The salt is a RandomText
 * of these (components/mailboxAccount.ts): made once per mailbox and kept in state, so the line is stable.
 */
export const CRYPT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
export const SALT_LENGTH = 16;
const SALT = new RegExp(`^[./0-9A-Za-z]{${SALT_LENGTH}}$`);
// What may precede the first `|`: DMS splits on it, Dovecot's passwd-file on `:`.
const ADDRESS = /^[^\s|:]+@[^\s|:]+$/;

/** Deterministic for (password, salt): the same state always yields the same line. */
export function accountLine(address: string, password: string, salt: string): string {
  if (!ADDRESS.test(address))
    throw new Error(`account address ${JSON.stringify(address)} is not usable in postfix-accounts.cf (no spaces, '|' or ':')`);
  if (!SALT.test(salt))
    throw new Error(`account salt ${JSON.stringify(salt)} for ${address} is not ${SALT_LENGTH} characters of [./0-9A-Za-z]`);
  // The password itself is never quoted in errors.
  if (password.length === 0 || /[\r\n\0]/.test(password))
    throw new Error(`password for ${address} is empty or contains a line break or NUL`);
  return `${address}|{SHA512-CRYPT}${encrypt(password, `$6$${salt}`)}`;
}
