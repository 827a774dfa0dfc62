// The colours of the status memory and how a shard derives them from its marks.

export type Colour = 'grey' | 'blue' | 'green' | 'red';
export const COLOURS: readonly Colour[] = ['grey', 'blue', 'green', 'red'];

/**
 * A shard publishes and replicates in sequence order, so its events' colours are described by
 * three marks over the sequence, not a colour per row: seq ≤ evictedThrough is red, ≤ greenThrough
 * green, ≤ blueThrough blue, the rest up to headSeq grey.
 */
export interface ColourMarks {
  headSeq: number;
  blueThrough: number;
  greenThrough: number;
  evictedThrough: number;
}

export const EMPTY_MARKS: ColourMarks = { headSeq: 0, blueThrough: 0, greenThrough: 0, evictedThrough: 0 };

export function colourOf(seq: number, marks: ColourMarks): Colour {
  if (seq <= marks.evictedThrough) return 'red';
  if (seq <= marks.greenThrough) return 'green';
  if (seq <= marks.blueThrough) return 'blue';
  return 'grey';
}

export function colourCounts(marks: ColourMarks): Record<Colour, number> {
  return {
    grey: marks.headSeq - marks.blueThrough,
    blue: marks.blueThrough - marks.greenThrough,
    green: marks.greenThrough - marks.evictedThrough,
    red: marks.evictedThrough,
  };
}
