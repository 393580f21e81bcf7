import { parseCliArgs, UsageError } from '../../../local/cli/args';
import { LOCAL_CLOCK_SPEED, MAX_CLOCK_SPEED } from '../../../local/clock';

test('--clock-speed: 100 by default, 1 to 5000 taken as given', () => {
  expect(parseCliArgs([]).clockSpeed).toBe(LOCAL_CLOCK_SPEED);
  expect(parseCliArgs(['--clock-speed', '1']).clockSpeed).toBe(1);
  expect(parseCliArgs(['--clock-speed', '5000']).clockSpeed).toBe(MAX_CLOCK_SPEED);
});

test.each(['5001', '100000'])(
  '--clock-speed %s is refused, naming the problem and the fastest that works',
  (speed) => {
    expect(() => parseCliArgs(['--clock-speed', speed])).toThrow(UsageError);
    expect(() => parseCliArgs(['--clock-speed', speed])).toThrow(
      `--clock-speed "${speed}" is too fast: above 5000 the local engine's own work counts as minutes of pipeline time, ` +
        "so the launch gate's every-minute reconciler runs pile up (the run may never end) and tasks come near their timeout; " +
        'use a whole number from 1 to 5000',
    );
  },
);

test('a --clock-speed that is not a whole number from 1 is refused as any number option is', () => {
  expect(() => parseCliArgs(['--clock-speed', '2.5'])).toThrow(
    '--clock-speed "2.5" is not valid: use a whole number from 1 to 5000',
  );
});
