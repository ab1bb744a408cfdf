// The middle of a bench's repetitions (the mean of the two middle ones for an even count): one
// slow repetition on a busy machine does not move it.
export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
