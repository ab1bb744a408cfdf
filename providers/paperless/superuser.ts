// The program works only with a superuser's API token. paperless shows any other user just the
// objects it owns, may see or that nobody owns (docs/paperless-api.md, Errors): an object missing
// from a list would look deleted (a refresh would drop it from the state), and a hidden rule of
// the same name would make a create fail. So every operation asks first whose token it holds:
// once per session, as part of the client's probe (no request of its own).
import { isPaperlessApiError } from "./client";
import type { Session } from "./session";

function notSuperuser(whose: string): Error {
  return new Error(
    `${whose}. The program must see every mail account, mail rule, tag and user to find, adopt and compare ` +
      "its objects, and paperless shows anyone else only some of them: one hidden would look deleted, or clash with a create. " +
      "Use the API token of a superuser (`pulumi config set --secret paperlessToken <token>`)",
  );
}

/** Resolves when the session's token belongs to a superuser; otherwise fails naming the user and where the token came from. */
export async function requireSuperuser(s: Session, tokenFrom: string): Promise<void> {
  let info;
  try {
    info = await s.client.serverInfo();
  } catch (e) {
    // A user without `view_uisettings` may not even read its own settings; a superuser holds every permission.
    if (isPaperlessApiError(e) && e.status === 403) {
      throw notSuperuser(
        `the API token from ${tokenFrom} belongs to a user who is not a paperless superuser (paperless refused it its own settings: ${e.method} ${e.path} → 403)`,
      );
    }
    throw e;
  }
  if (!info.user.is_superuser) {
    throw notSuperuser(
      `the API token from ${tokenFrom} belongs to paperless user ${JSON.stringify(info.user.username)}, who is not a superuser`,
    );
  }
}
