// The FUSE session's own contract: how a mount is made (MountOptions), what a pald hands its
// session over with (HandoverState), and what passthrough did (PassthroughStats).

export interface MountOptions {
  /** FUSE fsname shown in /proc/mounts; default "pal". */
  readonly fsname?: string;
  /**
   * Who reads /dev/fuse. 0 (default): the JS thread, through the event loop — no thread hop per
   * request, the fastest here. N > 0: N worker threads that answer what C can (handle-buffer
   * reads, release) even while the JS thread is busy, and hand the rest to JS.
   */
  readonly threads?: number;
  /** Extra -o options, e.g. ["allow_other"]. ro,nosuid,nodev,noexec are always set. */
  readonly extraOptions?: readonly string[];
  /** Tag of this session's file handles (1..65535): a handle of an earlier pald is never used. Default 1. */
  readonly generation?: number;
  /**
   * Resume the previous pald's session at the mountpoint from its /dev/fuse descriptor (the
   * addon owns `fd` from then on, also on failure) and the kernel's INIT request it saved,
   * instead of mounting anew.
   */
  readonly takeover?: { readonly fd: number; readonly init: Uint8Array };
  /**
   * FUSE passthrough (Linux >= 6.9, pald as root): an open whose content is a SecureBuffer is
   * answered so that the kernel reads the file from that buffer's pages itself, with no READ
   * request. From the mount on, SecureBuffers are allocated as memfd mappings (still locked and
   * undumpable). One content per inode at a time: while an inode has a passthrough file open, an
   * open of it with other content fails (EIO). On a resumed session (takeover) it is tried: the
   * kernel negotiated with the first pald, and the first registration tells. Default false.
   */
  readonly passthrough?: boolean;
}

/** FUSE passthrough on a mount (MountOptions.passthrough). */
export interface PassthroughStats {
  /** The mount asked for it, the kernel offered it, and the two agreed in INIT. */
  readonly asked: boolean;
  readonly offered: boolean;
  readonly negotiated: boolean;
  /** Opens answered by passthrough; opens that could not be (their inode read other content). */
  readonly opens: number;
  readonly conflicts: number;
  /** Inodes with passthrough files open now. */
  readonly busyInodes: number;
  /** READ requests the addon answered from a handle's content (a passthrough file sends none). */
  readonly contentReads: number;
}

/** What a pald needs to hand its session over, and how the handover goes. */
export interface HandoverState {
  /** The session's /dev/fuse descriptor (-1 once closed): give others duplicates, never close it. */
  readonly fd: number;
  /** The kernel's INIT request, once answered; null before. */
  readonly init: Uint8Array | null;
  /** FUSE protocol minor version the kernel offered (>= 40: it can resend requests). */
  readonly kernelMinor?: number;
  readonly ownHandles: number;
  readonly outstanding: number;
  readonly parked: number;
  /** Requests on handles of an earlier pald, answered in the addon. */
  readonly foreign: number;
  /** After a takeover: 1 resend sent, < 0 -errno, 0 not tried. */
  readonly resend: number;
  /** Handles of an earlier pald opened again for the caller who read from them. */
  readonly reopens: number;
}
