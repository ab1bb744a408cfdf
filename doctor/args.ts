// `npm run doctor -- [options]`: the command line, parsed strictly (an unknown option is an error,
// exit 2, never ignored).

export interface DoctorArgs {
  readonly stack?: string;
  readonly json: boolean;
  readonly listChecks: boolean;
  readonly check?: string;
  /** Window for failed consumptions, in ms (--since, default 24 h). */
  readonly sinceMs: number;
  readonly help: boolean;
}

export const USAGE = `usage: npm run doctor -- [--stack <name>] [--json] [--check <id>] [--since <duration>] [--list-checks]

  --stack <name>      the stack to check (default: the selected stack)
  --json              the report as one JSON document on stdout
  --check <id>        run one check (and the checks it needs)
  --since <duration>  window for failed consumptions, e.g. 90m, 24h, 7d (default 24h)
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
  let json = false;
  let listChecks = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const [name, inline] = argv[i]!.startsWith("--") && argv[i]!.includes("=") ? argv[i]!.split(/=(.*)/s) as [string, string] : [argv[i]!, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "") throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case "--stack": stack = value(); break;
      case "--check": check = value(); break;
      case "--since": sinceMs = parseDuration(value(), name); break;
      case "--json": json = true; break;
      case "--list-checks": listChecks = true; break;
      case "--help": case "-h": help = true; break;
      default: throw new Error(`unknown option ${JSON.stringify(argv[i])}`);
    }
  }
  return { ...(stack ? { stack } : {}), ...(check ? { check } : {}), sinceMs, json, listChecks, help };
}
