// Where the paperless API token comes from: a secret stack setting, else the environment. The
// program checks that one is set (stack/programConfig.ts), the paperless providers read it when
// they run (providers/paperless/provider.ts), and `npm run doctor` reads it the same way.
import { PROJECT } from "./types";

/** The stack config key of the API token (`pulumi config set --secret paperlessToken <token>`). */
export const TOKEN_CONFIG_KEY = `${PROJECT}:paperlessToken`;
/** The environment variable read when the stack has no token. */
export const TOKEN_ENV = "PAPERLESS_API_TOKEN";
