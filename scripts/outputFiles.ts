// The render's files written into --out: all of them or none. Every place is checked first (a
// directory where a file goes, a file where a directory goes, a directory we may not write), the
// files are written to a staging directory inside --out, and only then moved into place; a failure
// while moving puts back what was there, so --out is left as it was.
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from "fs";
import { dirname, join } from "path";
import { type CodedError, codedError, hasCode } from "../core/codedError";

const OUT_ERROR = "OUT_ERROR";

/** An output problem the user can fix, reported in one line; `leftOver` names what could not be put back. */
export type OutError = CodedError<typeof OUT_ERROR, { leftOver: readonly string[] }>;

const outError = (message: string, leftOver: readonly string[] = []): OutError => codedError(OUT_ERROR, message, { leftOver });

export const isOutError = (e: unknown): e is OutError => hasCode(e, OUT_ERROR);

function describe(e: unknown): string {
  const { code, message } = e as NodeJS.ErrnoException;
  return code ? `${code} (${message.replace(/^[A-Z]+: /, "").replace(/, \w+ '.*'$/, "")})` : String(message);
}

/** Whether `path` exists, and if so, whether it is a directory (a symlink counts as what it points to). */
function kindOf(path: string): "missing" | "directory" | "other" {
  if (!existsSync(path)) return "missing";
  return statSync(path).isDirectory() ? "directory" : "other";
}

/**
 * The directories to create, outermost first, so that `dir` exists; each existing one checked
 * writable. Nothing is created here.
 */
function missingDirectories(dir: string, shown: string): string[] {
  const kind = kindOf(dir);
  if (kind === "other") throw outError(`--out ${shown}: ${dir} is a file, not a directory`);
  if (kind === "directory") {
    try {
      accessSync(dir, constants.W_OK);
    } catch (e) {
      throw outError(`--out ${shown}: cannot write in ${dir}: ${describe(e)}`);
    }
    return [];
  }
  // Walked one level at a time, not mkdirSync({ recursive }): on some file systems (/proc) that never returns.
  return [...missingDirectories(dirname(dir), shown), dir];
}

/** Write `files` (relative path -> content) under `out`, all or none; `shown` is --out as the user gave it. */
export function writeAllOrNothing(out: string, shown: string, files: ReadonlyMap<string, string>): void {
  // Check every place before anything changes.
  const toCreate = new Set(missingDirectories(out, shown));
  for (const name of files.keys()) {
    const target = join(out, name);
    for (const dir of missingDirectories(dirname(target), shown)) toCreate.add(dir);
    if (kindOf(target) === "directory") throw outError(`--out ${shown}: ${target} is a directory, where the render writes a file`);
  }

  const created: string[] = [];
  const moved: { target: string; backup?: string; placed: boolean }[] = [];
  let staging: string | undefined;
  let step = "";
  try {
    for (const dir of toCreate) {
      step = `cannot create ${dir}`;
      mkdirSync(dir);
      created.push(dir);
    }
    step = `cannot write in ${out}`;
    staging = mkdtempSync(join(out, ".render-"));
    const staged = (name: string) => join(staging!, `new-${name.replaceAll("/", "%2F")}`);
    for (const [name, content] of files) {
      step = `cannot write ${join(out, name)}`;
      writeFileSync(staged(name), content);
    }
    [...files.keys()].forEach((name, i) => {
      const target = join(out, name);
      step = `cannot write ${target}`;
      const entry: { target: string; backup?: string; placed: boolean } = { target, placed: false };
      if (kindOf(target) !== "missing") {
        const backup = join(staging!, `old-${i}`);
        renameSync(target, backup);
        entry.backup = backup;
      }
      moved.push(entry);
      renameSync(staged(name), target);
      entry.placed = true;
    });
  } catch (e) {
    // Put back what was there, newest first; each step on its own, so one that fails leaves the others done.
    const leftOver: string[] = [];
    const attempt = (path: string, undo: () => void) => {
      try {
        undo();
      } catch {
        leftOver.push(path);
      }
    };
    for (const { target, backup, placed } of moved.reverse()) {
      if (placed) attempt(target, () => rmSync(target, { force: true }));
      if (backup) attempt(target, () => renameSync(backup, target));
    }
    // A backup that could not be put back stays in the staging directory, which then stays too.
    if (staging && leftOver.length) leftOver.push(`${staging} (holds the previous files)`);
    else if (staging) attempt(staging, () => rmSync(staging!, { recursive: true, force: true }));
    for (const dir of created.reverse()) attempt(dir, () => rmdirSync(dir));
    throw outError(`--out ${shown}: ${step}: ${describe(e)}`, leftOver);
  }
  rmSync(staging, { recursive: true, force: true });
}
