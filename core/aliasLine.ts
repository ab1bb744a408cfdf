// postfix-virtual.cf: Postfix looks `user@domain` up before `@domain`, so an explicit
// self-alias keeps a real mailbox out of the domain catch-all (docs/mailserver.md#the-self-alias).
const ADDRESS = /^[^\s,@]+@[^\s,@]+$/;

export function selfAliasLine(address: string): string {
  if (!ADDRESS.test(address))
    throw new Error(`alias address ${JSON.stringify(address)} is not usable in postfix-virtual.cf (no spaces or ',')`);
  return `${address} ${address}`;
}
