import type { POLARITIES, WIDGET_KINDS } from '../domain/dashboard';

export type WidgetKind = (typeof WIDGET_KINDS)[number];
export type Polarity = (typeof POLARITIES)[number];
