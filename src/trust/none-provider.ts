// trust.mode none: labels as the image and the container declare them, unverified. Development only.
import type { ImageSubject } from './types.js';
import type { LabelClaim, ProviderResult, TrustProvider } from './provider.js';
import { parseLabelList, PAL_LABELS_KEY } from './labels.js';

export const NONE_MODE_WARNING =
  'trust.mode is none: container labels are NOT verified (taken from image and docker run labels); for development only';

export function createNoneProvider(): TrustProvider {
  return {
    name: 'none',
    warning: NONE_MODE_WARNING,
    async labelsFor(image: ImageSubject): Promise<ProviderResult> {
      const claims: LabelClaim[] = [];
      const fromImage = parseLabelList(image.imageLabels?.[PAL_LABELS_KEY]);
      const fromContainer = parseLabelList(image.runtimeLabels?.[PAL_LABELS_KEY]);
      if (fromImage.length > 0)
        claims.push({ source: 'image config', labels: fromImage, detail: `image config ${PAL_LABELS_KEY}` });
      if (fromContainer.length > 0)
        claims.push({ source: 'container', labels: fromContainer, detail: `container ${PAL_LABELS_KEY}` });
      return { state: 'unverified', claims, reason: 'unverified (trust.mode none)' };
    },
    async close() {},
  };
}
