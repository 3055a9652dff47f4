// The PVH boot ABI (Xen docs/misc/pvh.pandoc, "x86/HVM direct boot ABI"),
// which QEMU's -kernel implements for ELF images on pc, q35 and microvm.
//
// An ELF note of type XEN_ELFNOTE_PHYS32_ENTRY names a 32-bit entry point.
// The loader enters it in 32-bit protected mode with paging off, flat CS,
// DS and ES, EFLAGS.IF = 0, no stack, and EBX = the physical address of a
// struct hvm_start_info (Xen public/arch-x86/hvm/start_info.h).

#ifndef KIT_PVH_H
#define KIT_PVH_H

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578      // "xEn3" with the 0x80 bit of 'E' set

#ifdef __ASSEMBLER__

// PVH_NOTE entry: emit the note that makes this ELF bootable by a PVH
// loader.  Invariants, as QEMU 7.2 reads it (hw/i386/x86.c):
//  - the note is an ELF note (namesz, descsz, type, name, desc), each part
//    4-byte aligned; the name is "Xen";
//  - in an ELF64 the descriptor is an 8-byte physical address;
//  - the section is SHT_NOTE and the linker script gives it an output
//    section of its own, so ld emits a PT_NOTE program header for it:
//    QEMU looks for the note through the program headers only.
// <<pvh-note
.macro PVH_NOTE entry
	.pushsection .note.Xen, "a", @note
	.balign 4
	.long 2f - 1f                   // namesz, with the NUL
	.long 4f - 3f                   // descsz
	.long XEN_ELFNOTE_PHYS32_ENTRY  // type
1:	.asciz "Xen"
2:	.balign 4
3:	.quad \entry
4:	.popsection
.endm
// >>pvh-note

#else

#include "types.h"

// Version 1 of the start-of-day structure; QEMU 7.2 passes version 1.
// An address field of 0 means "not present": nothing is loaded at 0.
struct hvm_start_info {
	u32 magic;              // HVM_START_MAGIC
	u32 version;
	u32 flags;
	u32 nr_modules;
	u64 modlist_paddr;
	u64 cmdline_paddr;      // NUL-terminated ASCII, the -append string
	u64 rsdp_paddr;         // ACPI RSDP
	u64 memmap_paddr;       // version >= 1: e820-style memory map
	u32 memmap_entries;
	u32 reserved;
};

#endif
#endif
