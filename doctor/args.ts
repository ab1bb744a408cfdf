// `npm run doctor -- [options]`: the command line, parsed strictly (an unknown option is an error,
// exit 2, never ignored).

export interface DoctorArgs {
  readonly stack?: string;
  readonly json: boolean;
  readonly listChecks: boolean;
  readonly check?: string;
  /** Window for failed consumptions, in ms (--since, default 24 h). */
  readonly sinceMs: number;
  /** Ask paperless to fetch now, before the checks. */
  readonly fetch: boolean;
  /** Send a canary mail through the whole path, after the checks. */
  readonly canary: boolean;
  /** How long --fetch and each --canary wait (--deadline, default 5 min). */
  readonly deadlineMs: number;
  readonly help: boolean;
}

export const USAGE = `usage: npm run doctor -- [--stack <name>] [--json] [--check <id>] [--since <duration>] [--fetch] [--canary] [--deadline <duration>] [--list-checks]

  --stack <name>      the stack to check (default: the selected stack)
  --json              the report as one JSON document on stdout
  --check <id>        run one check (and the checks it needs)
  --since <duration>  window for failed consumptions, e.g. 90m, 24h, 7d (default 24h)
  --fetch             ask paperless to fetch mail now and wait for it, then check (writes: a fetch)
  --canary            send a mail from canary.sender through the whole path, wait until it is filed,
                      then delete the document and the mail again (writes: see README.md#doctor-canary)
  --deadline <dur>    how long --fetch and --canary wait (default 5m)
  --list-checks       list every check and exit

exit 0: no check failed; 1: a check failed; 2: the doctor could not run (see README.md#doctor)
`;

/** `90m`, `24h`, `7d`, `30s`. */
export function parseDuration(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text.trim());
  if (!m) throw new Error(`${option} ${JSON.stringify(text)}: not a duration (e.g. 90m, 24h, 7d)`);
  return Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
}

export function parseArgs(argv: readonly string[]): DoctorArgs {
  let stack: string | undefined;
  let check: string | undefined;
  let sinceMs = 24 * 3_600_000;
  let deadlineMs = 5 * 60_000;
  let fetch = false;
  let canary = false;
  let json = false;
  let listChecks = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] =
      argv[i]!.startsWith("--") && argv[i]!.includes("=") ? (argv[i]!.split(/=(.*)/s) as [string, string]) : [argv[i]!, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "") throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case "--stack":
        stack = value();
        break;
      case "--check":
        check = value();
        break;
      case "--since":
        sinceMs = parseDuration(value(), name);
        break;
      case "--deadline":
        deadlineMs = parseDuration(value(), name);
        break;
      case "--fetch":
        fetch = true;
        break;
      case "--canary":
        canary = true;
        break;
      case "--json":
        json = true;
        break;
      case "--list-checks":
        listChecks = true;
        break;
      case "--help":
      case "-h":
        help = true;
        break;
      default:
        throw new Error(`unknown option ${JSON.stringify(argv[i])}`);
    }
  }
  return { ...(stack ? { stack } : {}), ...(check ? { check } : {}), sinceMs, fetch, canary, deadlineMs, json, listChecks, help };
}
