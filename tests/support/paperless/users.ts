// Paperless users with exactly the permissions a test names, made with manage.py as the harness
// makes its own users (server.ts), each with its API token.
import type { PaperlessServer } from "./server";

/** What a paperless user needs to manage mail accounts, rules and tags, see users and use the UI: everything but superuser. */
export const MAIL_TAG_USER_PERMISSIONS = [
  ...["mailaccount", "mailrule", "tag"].flatMap((m) => ["add", "change", "delete", "view"].map((verb) => `${verb}_${m}`)),
  "view_user",
  "view_document",
  "view_correspondent",
  "view_documenttype",
  "view_uisettings",
];

/** A user made with manage.py holding exactly `permissions` (codenames), and its API token. */
export async function userWithPermissions(
  server: Pick<PaperlessServer, "manage">,
  username: string,
  permissions: readonly string[],
): Promise<{ id: number; token: string }> {
  const { stdout } = await server.manage([
    "shell",
    "-c",
    [
      "import json",
      "from django.contrib.auth.models import Permission, User",
      "from rest_framework.authtoken.models import Token",
      `u = User.objects.create_user(${JSON.stringify(username)})`,
      `u.user_permissions.set(Permission.objects.filter(codename__in=${JSON.stringify(permissions)}))`,
      'print("PMI_USER " + json.dumps({"id": u.id, "token": Token.objects.create(user=u).key}))',
    ].join("\n"),
  ]);
  const line = stdout.split("\n").find((l) => l.startsWith("PMI_USER "));
  if (!line) throw new Error(`making user ${username} printed no result:\n${stdout}`);
  return JSON.parse(line.slice("PMI_USER ".length)) as { id: number; token: string };
}
