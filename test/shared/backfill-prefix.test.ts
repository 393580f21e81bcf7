import { backfillPrefix } from '../../shared/backfill-prefix';

describe('backfillPrefix', () => {
  test('lists the whole input prefix by default', () => {
    expect(backfillPrefix('incoming/')).toBe('incoming/');
  });

  test('appends a sub-prefix to the input prefix', () => {
    expect(backfillPrefix('incoming/', '2024/05/')).toBe('incoming/2024/05/');
  });

  test('accepts a sub-prefix given with the input prefix already in front', () => {
    expect(backfillPrefix('incoming/', 'incoming/2024/')).toBe('incoming/2024/');
  });

  test('refuses a leading slash, naming the fix', () => {
    expect(() => backfillPrefix('incoming/', '/2024/')).toThrow(
      'starts with "/": S3 keys have no leading slash',
    );
  });
});
