// The one redactor of the programs: secrets never reach a log line or an error as they are. Every
// program replaces them with the same marker, so one Loki query finds every redacted line, and so a
// reader knows what they are looking at: a password in a URL keeps its user, and the rest of the line
// stays as it was.
export const REDACTED = "[REDACTED]";

// Shorter fragments are not replaced on their own (a one-letter password would otherwise garble every
// log line); they are still removed where they stand as a URL's password by the pattern below.
const MIN_SECRET_LENGTH = 4;

/** The URL's password as written (percent-encoded) and decoded, when it has one. */
export function urlPasswords(text: string): string[] {
  try {
    const u = new URL(text);
    if (!u.password) return [];
    return [u.password, decodeURIComponent(u.password)];
  } catch {
    return [];
  }
}

/** The values of the URL's query parameters (a token, a signature), as written and decoded. */
export function urlQueryValues(text: string): string[] {
  try {
    const u = new URL(text);
    return [...u.searchParams.values()].flatMap((v) => [v, encodeURIComponent(v)]);
  } catch {
    return [];
  }
}

/**
 * A function replacing each of `secrets` in a text, in their plain and JSON-escaped forms, and the
 * password part of any URL written in the text (`scheme://user:password@` keeps the user).
 */
export function secretRedactor(secrets: Iterable<string>): (text: string) => string {
  const forms = [...new Set(secrets)]
    .filter((s) => s.length >= MIN_SECRET_LENGTH)
    .flatMap((s) => [s, JSON.stringify(s).slice(1, -1)])
    .sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text;
    for (const s of forms) out = out.split(s).join(REDACTED);
    return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s"]*:)[^@\s"/]+@/gi, `$1${REDACTED}@`);
  };
}

/** A URL with its password replaced, for a log line or an error that names where a program connects. */
export const redactUrl = (url: string): string => secretRedactor(urlPasswords(url))(url);

/**
 * A configured value as an error may echo it: in every URL written in it (`scheme://...`, parsable or
 * not), the user information (`user:password@`, or a token standing as the user) and the value of
 * every query parameter (`?token=...`, a presigned URL's signature) are replaced by REDACTED. What is
 * left (scheme, host, port, path, parameter names) is enough to see what is wrong.
 */
export function redactEchoed(text: string): string {
  // The user information runs to the last "@" of the URL: a password with an unencoded "/" or "?"
  // is still taken whole (a path holding "@" is redacted too, which is the safe side).
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s,"']*@/gi, `$1${REDACTED}@`)
    .replace(/([?&][^=&\s,"'#]*=)[^&\s,"'#]*/g, `$1${REDACTED}`);
}
