import { describe, expect, it } from 'vitest';
import { mailText, MAX_MAIL_TEXT_CHARS, SPAM_COLLECTIONS, SPAM_TARGET_COLLECTIONS, SPAM_TASK, spamLabel, spamSitePartition, spamSiteTexts, spamSplits, type SpamMail } from '@fedtune/shared';
import { builtinSpam, loadSpamMails } from '@fedtune/shared/node';

describe('mailText: subject and body only', () => {
  it('keeps the Subject (continuation lines joined) and the body, drops every other header', () => {
    const raw = 'From: alice@example.com\nReceived: from mx.example.com\nX-Spam-Status: Yes, score=9\nSubject: Cheap\n  meds today\nTo: bob@example.com\n\nBuy now.\nReally.';
    expect(mailText(raw)).toBe('Cheap meds today Buy now. Really.');
  });

  it('strips HTML tags, comments and style blocks, decodes entities and quoted-printable', () => {
    const raw = 'Subject: Hi\nContent-Type: text/html\n\n<html><style>p{color:red}</style><!-- hidden --><p>Win&nbsp;big &amp; fast=\ner</p><a href=3D"x">click</a> caf=E9 &#65;</html>';
    expect(mailText(raw)).toBe('Hi Win big & faster click café A');
  });

  it('drops MIME boundaries, part headers and base64 lines', () => {
    const raw = `Subject: parts\nMIME-Version: 1.0\n\n--b1\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n${'QUJD'.repeat(20)}\nhello there\n--b1--`;
    expect(mailText(raw)).toBe('parts hello there');
  });

  it('a mail without a body or subject gives what is there; the result is bounded', () => {
    expect(mailText('From: x')).toBe('');
    expect(mailText('Subject: only\r\n\r\n')).toBe('only');
    expect(mailText(`Subject: s\n\n${'word '.repeat(5000)}`)).toHaveLength(MAX_MAIL_TEXT_CHARS);
  });
});

/** A synthetic corpus whose texts are all different: `n` e-mails per collection. */
function synthetic(n: number): SpamMail[] {
  return SPAM_COLLECTIONS.flatMap((collection) => Array.from({ length: n }, (_, i) => ({ collection, text: `${collection} mail ${i}` })));
}

describe('spamSplits', () => {
  it('labels spam collections 1 and ham collections (hard ham included) 0', () => {
    expect(SPAM_COLLECTIONS.map(spamLabel)).toEqual([0, 0, 0, 1, 1]);
  });

  it('source from easy-ham-1 and spam-1 only, holdout from the target collections only, no text in two splits, none lost', () => {
    const mails = synthetic(400);
    const { source, holdout, pool } = spamSplits(mails);
    expect(source.texts).toHaveLength(SPAM_TASK.sourceHam + SPAM_TASK.sourceSpam);
    expect(source.collections.filter((c) => c === 'easy-ham-1')).toHaveLength(SPAM_TASK.sourceHam);
    expect(source.collections.filter((c) => c === 'spam-1')).toHaveLength(SPAM_TASK.sourceSpam);
    expect(holdout.texts).toHaveLength(SPAM_TASK.holdoutSize);
    for (const c of holdout.collections) expect(SPAM_TARGET_COLLECTIONS).toContain(c);
    const all = [...source.texts, ...holdout.texts, ...pool.texts];
    expect(new Set(all).size).toBe(mails.length);
    expect(all).toHaveLength(mails.length);
    for (const split of [source, holdout, pool]) {
      expect(split.classNames).toEqual(['ham', 'spam']);
      split.collections.forEach((c, i) => expect(split.labels[i]).toBe(spamLabel(c)));
    }
  });

  it('is the same whatever else runs (fixed task seed), and refuses a corpus too small', () => {
    expect(spamSplits(synthetic(400))).toEqual(spamSplits(synthetic(400)));
    expect(() => spamSplits(synthetic(50))).toThrow(/needs the whole SpamAssassin corpus, got 250/);
  });

  it('on the real corpus: 6,046 e-mails, the documented split sizes, the source vocabulary sees no target collection', () => {
    const mails = loadSpamMails();
    expect(mails).toHaveLength(6046);
    const { source, holdout, pool } = builtinSpam();
    expect([source.texts.length, holdout.texts.length, pool.texts.length]).toEqual([400, 600, 5046]);
    expect(new Set(source.collections)).toEqual(new Set(['easy-ham-1', 'spam-1']));
    expect(new Set(holdout.collections)).toEqual(new Set(SPAM_TARGET_COLLECTIONS));
    // No header but the subject reaches the model: every raw e-mail has a Delivered-To header for the corpus's mailbox.
    const leaked = [...source.texts, ...holdout.texts, ...pool.texts].filter((t) => t.includes('zzzz@localhost'));
    expect(leaked.length).toBeLessThan(10); // quoted in a few bodies, never from the headers (6,046 otherwise)
  });
});

describe('spam sites', () => {
  const { pool } = spamSplits(synthetic(400));

  it('collection partition: with 2 sites, site 1 holds collections 1, 3, 5 and site 2 collections 2, 4, each whole', () => {
    const parts = spamSitePartition(pool, { sites: 2, partition: 'collection', seed: 1 });
    const collectionsOf = (p: number[]) => [...new Set(p.map((i) => pool.collections[i]))].sort();
    expect(collectionsOf(parts[0]!)).toEqual(['easy-ham-1', 'hard-ham-1', 'spam-2']);
    expect(collectionsOf(parts[1]!)).toEqual(['easy-ham-2', 'spam-1']);
    expect(parts[0]!.length + parts[1]!.length).toBe(pool.texts.length);
  });

  it('collection partition: with 7 sites, sites 1 and 6 share easy-ham-1, sites 2 and 7 easy-ham-2, every other site one collection', () => {
    const parts = spamSitePartition(pool, { sites: 7, partition: 'collection', seed: 1 });
    const collectionsOf = (p: number[]) => [...new Set(p.map((i) => pool.collections[i]))];
    expect(parts.map(collectionsOf)).toEqual([['easy-ham-1'], ['easy-ham-2'], ['hard-ham-1'], ['spam-1'], ['spam-2'], ['easy-ham-1'], ['easy-ham-2']]);
    const ham1 = pool.collections.filter((c) => c === 'easy-ham-1').length;
    expect(Math.abs(parts[0]!.length - parts[5]!.length)).toBeLessThanOrEqual(1);
    expect(parts[0]!.length + parts[5]!.length).toBe(ham1);
    expect(new Set(parts.flat()).size).toBe(pool.texts.length);
  });

  it('other partitions are the partition specs on the labels (dirichlet differs from iid), bad ones a config error', () => {
    const iid = spamSitePartition(pool, { sites: 4, partition: 'iid', seed: 1 });
    const dir = spamSitePartition(pool, { sites: 4, partition: 'dirichlet:0.1', seed: 1 });
    expect(iid).not.toEqual(dir);
    expect(new Set(dir.flat()).size).toBe(pool.texts.length);
    expect(() => spamSitePartition(pool, { sites: 4, partition: 'by-sender', seed: 1 })).toThrow(/unknown partition "by-sender"/);
    expect(() => spamSitePartition(pool, { sites: 0, partition: 'collection', seed: 1 })).toThrow(/positive integer/);
  });

  it('each site keeps a seeded sample of at most maxSiteExamples e-mails; a smaller share stays whole', () => {
    const capped = spamSiteTexts(pool, { sites: 2, partition: 'collection', seed: 3, maxSiteExamples: 50 });
    expect(capped.map((s) => s.texts.length)).toEqual([50, 50]);
    expect(spamSiteTexts(pool, { sites: 2, partition: 'collection', seed: 3, maxSiteExamples: 50 })).toEqual(capped);
    expect(spamSiteTexts(pool, { sites: 2, partition: 'collection', seed: 4, maxSiteExamples: 50 })[0]!.texts).not.toEqual(capped[0]!.texts);
    const whole = spamSiteTexts(pool, { sites: 2, partition: 'collection', seed: 3, maxSiteExamples: 100_000 });
    expect(whole[0]!.texts.length + whole[1]!.texts.length).toBe(pool.texts.length);
    expect(spamSiteTexts(pool, { sites: 2, partition: 'collection', seed: 3 })[0]!.texts).toHaveLength(SPAM_TASK.maxSiteExamples);
    capped.forEach((s) => s.collections.forEach((c, i) => expect(s.labels[i]).toBe(spamLabel(c))));
  });
});
