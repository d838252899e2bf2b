// Where secret files are: compose mounts each service's secrets/<consumer>/ folder read-only at
// /run/secrets/, and alertmanager.yml names its `*_file` secrets there. A reader that sees the same
// files in another folder (the ops service's mount of Alertmanager's folder, a test's folder of test
// values) maps a path under /run/secrets/ to it with secretFileIn; Kubernetes packaging turns such a
// path into a reference to a Secret's key.
import { join } from "node:path";

export const secretsMount = "/run/secrets/";

/** Whether `file` is a path under /run/secrets/. */
export const underSecretsMount = (file: string): boolean => file.startsWith(secretsMount);

/** `file`, a path under /run/secrets/, as the same file in `dir`. */
export const secretFileIn = (file: string, dir: string): string => join(dir, file.slice(secretsMount.length));
