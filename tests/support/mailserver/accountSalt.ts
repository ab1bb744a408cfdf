// A fresh salt for the account lines the harnesses write, made as the program's salt RandomText
// makes one (components/mailboxAccount.ts).
import { CRYPT_ALPHABET, SALT_LENGTH } from "../../../core/accountLine";
import { randomText } from "../../../providers/random/randomText";

export function newSalt(): string {
  return randomText(CRYPT_ALPHABET, SALT_LENGTH);
}
