/** The longest text kept of one e-mail (subject + body, after cleaning): the model reads its first words only. */
export const MAX_MAIL_TEXT_CHARS = 4_000;

const HTML_ENTITIES: Record<string, string> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * The text of one raw e-mail that a spam model may read: its Subject (continuation lines joined) and its
 * body, nothing else — every other header (From, Received, Return-Path, X-Spam-*…) is dropped, as are MIME
 * part headers, boundary lines and base64 blocks. Quoted-printable soft breaks and =XX escapes are decoded,
 * HTML comments, <style>/<script> blocks and tags are removed, the common entities decoded, and whitespace
 * collapsed. At most MAX_MAIL_TEXT_CHARS characters are kept.
 */
export function mailText(raw: string): string {
  const text = raw.replace(/\r\n?/g, '\n');
  const split = text.indexOf('\n\n');
  const head = split < 0 ? text : text.slice(0, split);
  const body = split < 0 ? '' : text.slice(split + 2);
  const subject = /^subject:[ \t]*(.*(?:\n[ \t].*)*)/im.exec(head)?.[1]?.replace(/\n[ \t]+/g, ' ') ?? '';
  const lines = decodeQuotedPrintable(body)
    .split('\n')
    .filter((line) => !/^--/.test(line) && !/^(content-[a-z-]+|mime-version)\s*:/i.test(line) && !/^\s*[A-Za-z0-9+/=]{60,}\s*$/.test(line));
  const cleanBody = lines
    .join('\n')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(style|script)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]{0,2000}>/g, ' ')
    .replace(/&(#\d{1,6}|[a-z]{2,6});/gi, (m, name: string) => decodeEntity(name) ?? m);
  return `${subject}\n${cleanBody}`.replace(/\s+/g, ' ').trim().slice(0, MAX_MAIL_TEXT_CHARS);
}

function decodeEntity(name: string): string | undefined {
  if (name.startsWith('#')) {
    const code = Number(name.slice(1));
    return code > 0 && code < 0x110000 ? String.fromCodePoint(code) : undefined;
  }
  return HTML_ENTITIES[name.toLowerCase()];
}

function decodeQuotedPrintable(body: string): string {
  return body.replace(/=\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
