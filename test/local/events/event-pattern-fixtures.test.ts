import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import JSON5 from 'json5';

import { compileEventPattern, InvalidEventPatternError } from '../../../local/events/event-pattern';

/**
 * The matcher against EventBridge itself: each fixture is a pattern and an event whose outcome was
 * recorded on AWS (see fixtures/event-patterns/README.md): a match, no match (`_NEG`) or a pattern
 * EventBridge refuses (`_EXC`).
 */

const FIXTURES = join(__dirname, 'fixtures', 'event-patterns');

interface Fixture {
  readonly Event: unknown;
  readonly EventPattern: unknown;
}

const cases = readdirSync(FIXTURES)
  .filter((name) => name.endsWith('.json5'))
  .sort()
  .map((name) => {
    const label = name.slice(0, -'.json5'.length);
    const fixture = JSON5.parse<Fixture>(readFileSync(join(FIXTURES, name), 'utf8'));
    return { label, ...fixture };
  });

const matching = cases.filter(({ label }) => !/_(NEG|EXC)$/.test(label));
const notMatching = cases.filter(({ label }) => label.endsWith('_NEG'));
const refused = cases.filter(({ label }) => label.endsWith('_EXC'));

test('every recorded case is run (none lost to a filter)', () => {
  expect(matching.length + notMatching.length + refused.length).toBe(155);
  expect([matching.length, notMatching.length, refused.length]).toEqual([66, 51, 38]);
});

test.each(matching)('$label: matches, as on AWS', ({ EventPattern, Event }) => {
  expect(compileEventPattern(EventPattern)(Event)).toBe(true);
});

test.each(notMatching)('$label: does not match, as on AWS', ({ EventPattern, Event }) => {
  expect(compileEventPattern(EventPattern)(Event)).toBe(false);
});

test.each(refused)('$label: the pattern is refused, as on AWS', ({ EventPattern }) => {
  expect(() => compileEventPattern(EventPattern)).toThrow(InvalidEventPatternError);
});
