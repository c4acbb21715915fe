// SPDX-License-Identifier: GPL-2.0-or-later
/* The device profiles of dfuflash-sim, with the identities, layouts and quirks quoted from
 * public dfu-util device logs, lsusb dumps and bug reports.  [inf] marks a value inferred
 * rather than observed; such behaviour stays configurable through sim_options.faults. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "sim-profiles.h"

/* The profile tables below are aligned by hand. */
/* clang-format off */
#define RUN(n, nw, s, sw, m, t) \
	{ .count = (n), .count_width = (nw), .size = (s), .size_width = (sw), .mult = (m), \
	  .type = (t) }
#define GROUP(addr, k, rr) \
	{ .address = (addr), .kind = (k), .runs = (rr), .n_runs = ARRAY_SIZE(rr) }
#define ALT(nm, gg) { .name = (nm), .groups = (gg), .n_groups = ARRAY_SIZE(gg) }

/* Get Commands replies (AN3156; ST's usbd_dfu.c): ROM with Read Unprotect, ST HAL
 * without. */
static const uint8_t cmds_rom[] = { 0x00, 0x21, 0x41, 0x92 };
static const uint8_t cmds_hal[] = { 0x00, 0x21, 0x41 };

/* bmAttributes 0x0B: CanDnload, CanUpload, WillDetach, not ManifestationTolerant, as
 * every ST ROM in the dfu-util device logs. */
#define ST_FD_ATTR 0x0b
/* The notional application's run-time interface: CanDnload|CanUpload|WillDetach. */
#define APP_FD_ATTR 0x0b

/*
 * Shared initialisers.  Each holds only fields that are the same in every profile using it
 * (-Woverride-init rejects a profile that sets one again); a profile lists what differs.
 */

/* What every DfuSe device here copies from ST's ROM: the functional descriptor (fd_length
 * stays per profile, Particle's is 7 bytes), the Address Pointer default and CLRSTATUS. */
#define DFUSE_COMMON                                                                               \
	.fd_attributes = ST_FD_ATTR, .detach_timeout = 255, .bcd_dfu = 0x011A, .dfuse = true,      \
	.flash_base = 0x08000000, .clr = SIM_CLR_ST

/* ST's DFU-mode identity, ROM and HAL alike. */
#define ST_IDENTITY .vid = 0x0483, .pid = 0xDF11, .manufacturer = "STMicroelectronics"

/* The notional application's run-time identity (app_base differs for the HAL example). */
#define ST_APP                                                                                     \
	.app_vid = 0x0483, .app_pid = 0x5740, .app_bcd_device = 0x0200,                            \
	.app_product = "STM32 Application", .app_fd_attributes = APP_FD_ATTR, .app_bcd_dfu = 0x011A

/* Every ST system-memory bootloader: polls (dfu-util -v logs: 100 ms for an erase, 104 ms
 * otherwise), Get Commands with Read Unprotect, oversized blocks stalled, dfuIDLE at
 * start, the application at the start of flash. */
#define ST_ROM                                                                                     \
	ST_IDENTITY, DFUSE_COMMON, .fd_length = 9, .poll_erase_ms = 100, .poll_other_ms = 104,     \
	.poll_set_address_ms = 104, .oversize = SIM_OVERSIZE_STALL, .initial_state = 2,            \
	.commands = cmds_rom, .n_commands = sizeof(cmds_rom), .app_base = 0x08000000, ST_APP

/* ---- STM32F405/F407 (RM0090): 1 MiB in 4x16K, 1x64K, 7x128K sectors ------------- */
static const struct sim_run f4_flash_runs[] = {
	RUN(4, 2, 16, 3, 'K', 'g'), RUN(1, 2, 64, 3, 'K', 'g'), RUN(7, 2, 128, 3, 'K', 'g'),
};
static const struct sim_run f4_ob_runs_e[] = { RUN(1, 2, 16, 3, ' ', 'e') };
static const struct sim_run f4_ob_runs_g[] = { RUN(1, 2, 16, 3, ' ', 'g') };
static const struct sim_run f4_otp_runs_e[] = {
	RUN(1, 2, 512, 3, ' ', 'e'), RUN(1, 2, 16, 3, ' ', 'e'),
};
static const struct sim_run f4_otp_runs_g[] = {
	RUN(1, 2, 512, 3, ' ', 'g'), RUN(1, 2, 16, 3, ' ', 'g'),
};
static const struct sim_run feature_runs_e[] = { RUN(1, 2, 4, 3, ' ', 'e') };
static const struct sim_run feature_runs_g[] = { RUN(1, 2, 4, 3, ' ', 'g') };
static const struct sim_run f4_ram_runs[] = { RUN(1, 0, 128, 0, 'K', 'e') };
static const struct sim_run f4_ccm_runs[] = { RUN(1, 0, 64, 0, 'K', 'e') };
static const struct sim_run f4_sys_runs[] = { RUN(1, 0, 30, 0, 'K', 'a') };

static const struct sim_group f4_flash = GROUP(0x08000000, SIM_REGION_FLASH, f4_flash_runs);
static const struct sim_group f4_ob_e = GROUP(0x1FFFC000, SIM_REGION_OPTION, f4_ob_runs_e);
static const struct sim_group f4_ob_g = GROUP(0x1FFFC000, SIM_REGION_OPTION, f4_ob_runs_g);
static const struct sim_group f4_otp_e = GROUP(0x1FFF7800, SIM_REGION_OTP, f4_otp_runs_e);
static const struct sim_group f4_otp_g = GROUP(0x1FFF7800, SIM_REGION_OTP, f4_otp_runs_g);
static const struct sim_group feature_e = GROUP(0xFFFF0000, SIM_REGION_FEATURE, feature_runs_e);
static const struct sim_group feature_g = GROUP(0xFFFF0000, SIM_REGION_FEATURE, feature_runs_g);
static const struct sim_group f4_ram = GROUP(0x20000000, SIM_REGION_RAM, f4_ram_runs);
static const struct sim_group f4_ccm = GROUP(0x10000000, SIM_REGION_RAM, f4_ccm_runs);
static const struct sim_group f4_sys = GROUP(0x1FFF0000, SIM_REGION_SYSTEM, f4_sys_runs);

static const struct sim_group *const g_f4_flash[] = { &f4_flash };
static const struct sim_group *const g_f4_ob_e[] = { &f4_ob_e };
static const struct sim_group *const g_f4_ob_g[] = { &f4_ob_g };
static const struct sim_group *const g_f4_otp_e[] = { &f4_otp_e };
static const struct sim_group *const g_f4_otp_g[] = { &f4_otp_g };
static const struct sim_group *const g_feature_e[] = { &feature_e };
static const struct sim_group *const g_feature_g[] = { &feature_g };

static const struct sim_alt f4_alts_new[] = {
	ALT("Internal Flash  ", g_f4_flash),
	ALT("Option Bytes  ", g_f4_ob_e),
	ALT("OTP Memory ", g_f4_otp_e),
	ALT("Device Feature", g_feature_e),
};
static const struct sim_alt f4_alts_old[] = {
	ALT("Internal Flash  ", g_f4_flash),
	ALT("Option Bytes  ", g_f4_ob_g),
	ALT("OTP Memory ", g_f4_otp_g),
	ALT("Device Feature", g_feature_g),
};
static const struct sim_group *const f4_mem_new[] = {
	&f4_flash, &f4_ob_e, &f4_otp_e, &feature_e, &f4_ram, &f4_ccm, &f4_sys,
};
static const struct sim_group *const f4_mem_old[] = {
	&f4_flash, &f4_ob_g, &f4_otp_g, &feature_g, &f4_ram, &f4_ccm, &f4_sys,
};

/* RM0090 option bytes seen through the 16-byte alt [inf layout]: USER, RDP (0xAA =
 * level 0), their complements, then nWRP (one bit per sector, 1 = unprotected). */
static const uint8_t f4_ob_default[16] = {
	0xEF, 0xAA, 0x10, 0x55, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00, 0xF0, 0xFF, 0xFF, 0xFF, 0xFF,
};

#define F4_COMMON                                                                                  \
	ST_ROM, .bcd_usb = 0x0200, .product = "STM32  BOOTLOADER", .serial = "3574364C3034",       \
	.transfer_size = 2048, .family = SIM_FAM_F4, .busy = SIM_BUSY_NAK,                         \
	.leave = SIM_LEAVE_ANSWER_THEN_VANISH, .jump = SIM_JUMP_VECTOR_TABLE,                      \
	.set_address_rdp_fails = true, .ob_base = 0x1FFFC000, .ob_rdp_offset = 1,                  \
	.ob_rdp_level0 = 0xAA, .ob_wrp_offset = 8, .ob_wrp_bits = 12, .ob_default = f4_ob_default, \
	.otp_lock_bytes = true, .otp_base = 0x1FFF7800, .otp_block = 32, .otp_blocks = 16

/* ---- STM32F105/F107 (AN2662) ------------------------------------------------------ */
static const struct sim_run f107_flash_runs[] = { RUN(128, 3, 2, 3, 'K', 'g') };
static const struct sim_run f1_ob_runs_g[] = { RUN(1, 2, 16, 3, ' ', 'g') };
static const struct sim_run f1_ob_runs_e[] = { RUN(1, 2, 16, 3, ' ', 'e') };
static const struct sim_run f107_ram_runs[] = { RUN(1, 0, 64, 0, 'K', 'e') };
static const struct sim_run f1_sys_runs[] = { RUN(1, 0, 18, 0, 'K', 'a') };
static const struct sim_group f107_flash = GROUP(0x08000000, SIM_REGION_FLASH, f107_flash_runs);
static const struct sim_group f1_ob_g = GROUP(0x1FFFF800, SIM_REGION_OPTION, f1_ob_runs_g);
static const struct sim_group f1_ob_e = GROUP(0x1FFFF800, SIM_REGION_OPTION, f1_ob_runs_e);
static const struct sim_group f107_ram = GROUP(0x20000000, SIM_REGION_RAM, f107_ram_runs);
static const struct sim_group f1_sys = GROUP(0x1FFFB000, SIM_REGION_SYSTEM, f1_sys_runs);
static const struct sim_group *const g_f107_flash[] = { &f107_flash };
static const struct sim_group *const g_f1_ob_g[] = { &f1_ob_g };
static const struct sim_group *const g_f1_ob_e[] = { &f1_ob_e };
static const struct sim_alt f107_alts[] = {
	ALT("Internal Flash  ", g_f107_flash),
	ALT("Option Bytes  ", g_f1_ob_g),
};
static const struct sim_group *const f107_mem[] = { &f107_flash, &f1_ob_g, &f107_ram, &f1_sys };
/* RM0008 option bytes: RDP 0xA5 = unprotected, then USER and the complements. */
static const uint8_t f1_ob_default[16] = {
	0xA5, 0x5A, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00,
};

/* ---- STM32F072 ------------------------------------------------------------------ */
static const struct sim_run f072_flash_runs[] = { RUN(64, 3, 2, 4, 'K', 'g') };
static const struct sim_run f072_ram_runs[] = { RUN(1, 0, 16, 0, 'K', 'e') };
static const struct sim_run f0_sys_runs[] = { RUN(1, 0, 12, 0, 'K', 'a') };
static const struct sim_group f072_flash = GROUP(0x08000000, SIM_REGION_FLASH, f072_flash_runs);
static const struct sim_group f072_ram = GROUP(0x20000000, SIM_REGION_RAM, f072_ram_runs);
static const struct sim_group f0_sys = GROUP(0x1FFFC800, SIM_REGION_SYSTEM, f0_sys_runs);
static const struct sim_group *const g_f072_flash[] = { &f072_flash };
static const struct sim_alt f072_alts[] = {
	ALT("Internal Flash  ", g_f072_flash),
	ALT("Option Bytes  ", g_f1_ob_e),
};
static const struct sim_group *const f072_mem[] = { &f072_flash, &f1_ob_e, &f072_ram, &f0_sys };
static const uint8_t f0_ob_default[16] = {
	0xAA, 0x55, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00,
};

/* ---- STM32L476xE (512 KiB) -------------------------------------------------------- */
static const struct sim_run l4_flash_runs[] = { RUN(256, 4, 2, 4, 'K', 'g') };
static const struct sim_run l4_ob_runs[] = { RUN(1, 2, 40, 3, ' ', 'e') };
static const struct sim_run l4_otp_runs[] = { RUN(1, 2, 1, 4, 'K', 'e') };
static const struct sim_run l4_ram_runs[] = { RUN(1, 0, 96, 0, 'K', 'e') };
static const struct sim_run l4_sys_runs[] = { RUN(1, 0, 28, 0, 'K', 'a') };
static const struct sim_group l4_flash = GROUP(0x08000000, SIM_REGION_FLASH, l4_flash_runs);
static const struct sim_group l4_ob = GROUP(0x1FFF7800, SIM_REGION_OPTION, l4_ob_runs);
static const struct sim_group l4_otp = GROUP(0x1FFF7000, SIM_REGION_OTP, l4_otp_runs);
static const struct sim_group l4_ram = GROUP(0x20000000, SIM_REGION_RAM, l4_ram_runs);
static const struct sim_group l4_sys = GROUP(0x1FFF0000, SIM_REGION_SYSTEM, l4_sys_runs);
static const struct sim_group *const g_l4_flash[] = { &l4_flash };
static const struct sim_group *const g_l4_ob[] = { &l4_ob };
static const struct sim_group *const g_l4_otp[] = { &l4_otp };
static const struct sim_alt l4_alts[] = {
	ALT("Internal Flash  ", g_l4_flash),
	ALT("Option Bytes  ", g_l4_ob),
	ALT("OTP Memory ", g_l4_otp),
	ALT("Device Feature", g_feature_e),
};
static const struct sim_group *const l4_mem[] = {
	&l4_flash, &l4_ob, &l4_otp, &feature_e, &l4_ram, &l4_sys,
};
/* FLASH_OPTR: RDP in the low byte (0xAA = level 0) [inf for the remaining bytes]. */
static const uint8_t l4_ob_default[48] = {
	0xAA, 0xF8, 0xEF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF,
	0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00,
	0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF,
	0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00,
};

/* ---- STM32G474 (512 KiB) ---------------------------------------------------------- */
static const struct sim_run g4_flash_runs[] = { RUN(256, 3, 2, 2, 'K', 'g') };
static const struct sim_run g4_ob_runs[] = { RUN(1, 2, 48, 3, ' ', 'e') };
static const struct sim_run g4_otp_runs[] = { RUN(1, 2, 1024, 4, ' ', 'e') };
static const struct sim_run g4_ram_runs[] = { RUN(1, 0, 128, 0, 'K', 'e') };
static const struct sim_group g4_flash = GROUP(0x08000000, SIM_REGION_FLASH, g4_flash_runs);
static const struct sim_group g4_ob1 = GROUP(0x1FFF7800, SIM_REGION_OPTION, g4_ob_runs);
static const struct sim_group g4_ob2 = GROUP(0x1FFFF800, SIM_REGION_OPTION, g4_ob_runs);
static const struct sim_group g4_otp = GROUP(0x1FFF7000, SIM_REGION_OTP, g4_otp_runs);
static const struct sim_group g4_ram = GROUP(0x20000000, SIM_REGION_RAM, g4_ram_runs);
static const struct sim_group *const g_g4_flash[] = { &g4_flash };
static const struct sim_group *const g_g4_ob[] = { &g4_ob1, &g4_ob2 };
static const struct sim_group *const g_g4_otp[] = { &g4_otp };
static const struct sim_alt g4_alts[] = {
	ALT("Internal Flash   ", g_g4_flash),
	ALT("Option Bytes   ", g_g4_ob),
	ALT("OTP Memory   ", g_g4_otp),
};
static const struct sim_group *const g4_mem[] = {
	&g4_flash, &g4_ob1, &g4_ob2, &g4_otp, &g4_ram, &l4_sys,
};

/* ---- STM32G0B1: the ROM names every alt like the flash (ST community, 2025) -------- */
static const struct sim_run g0_flash_runs[] = { RUN(256, 3, 2, 2, 'K', 'g') };
static const struct sim_run g0_ob_runs[] = { RUN(1, 0, 128, 0, ' ', 'e') };
static const struct sim_run g0_ram_runs[] = { RUN(1, 0, 144, 0, 'K', 'e') };
static const struct sim_group g0_flash = GROUP(0x08000000, SIM_REGION_FLASH, g0_flash_runs);
static const struct sim_group g0_ob = GROUP(0x1FFF7800, SIM_REGION_OPTION, g0_ob_runs);
static const struct sim_group g0_otp = GROUP(0x1FFF7000, SIM_REGION_OTP, g4_otp_runs);
static const struct sim_group g0_ram = GROUP(0x20000000, SIM_REGION_RAM, g0_ram_runs);
static const struct sim_group *const g_g0_flash[] = { &g0_flash };
static const struct sim_alt g0_alts[] = {
	ALT("Internal Flash ", g_g0_flash),
	ALT("Internal Flash ", g_g0_flash),
	ALT("Internal Flash ", g_g0_flash),
};
static const struct sim_group *const g0_mem[] = { &g0_flash, &g0_ob, &g0_otp, &g0_ram, &l4_sys };
/* FLASH_OPTR: RDP in the low byte [inf for the rest]. */
static const uint8_t g0_ob_default[128] = { [0] = 0xAA, [1] = 0xFE, [2] = 0xFF, [3] = 0xDF };

/* ---- STM32H743/H753: 2 x 8 x 128 KiB, 256-bit flash words --------------------------- */
static const struct sim_run h7_flash_runs[] = { RUN(16, 2, 128, 3, 'K', 'g') };
static const struct sim_run h7_ob_runs[] = { RUN(1, 2, 128, 3, ' ', 'e') };
static const struct sim_run h7_dtcm_runs[] = { RUN(1, 0, 128, 0, 'K', 'e') };
static const struct sim_run h7_axi_runs[] = { RUN(1, 0, 512, 0, 'K', 'e') };
static const struct sim_run h7_sys_runs[] = { RUN(1, 0, 128, 0, 'K', 'a') };
static const struct sim_group h7_flash = GROUP(0x08000000, SIM_REGION_FLASH, h7_flash_runs);
static const struct sim_group h7_ob = GROUP(0x5200201C, SIM_REGION_OPTION, h7_ob_runs);
static const struct sim_group h7_dtcm = GROUP(0x20000000, SIM_REGION_RAM, h7_dtcm_runs);
static const struct sim_group h7_axi = GROUP(0x24000000, SIM_REGION_RAM, h7_axi_runs);
static const struct sim_group h7_sys = GROUP(0x1FF00000, SIM_REGION_SYSTEM, h7_sys_runs);
static const struct sim_group *const g_h7_flash[] = { &h7_flash };
static const struct sim_group *const g_h7_ob[] = { &h7_ob };
static const struct sim_alt h7_alts[] = {
	ALT("Internal Flash   ", g_h7_flash),
	ALT("Option Bytes   ", g_h7_ob),
};
static const struct sim_group *const h7_mem[] = { &h7_flash, &h7_ob, &h7_dtcm, &h7_axi, &h7_sys };
/* FLASH_OPTSR_CUR at 0x5200201C: RDP in bits 15:8; FLASH_WPSN_CUR1 at +0x1C (bank 1
 * sectors only; bank 2's register lies outside the 128-byte window) [inf]. */
static const uint8_t h7_ob_default[128] = {
	[0] = 0xF0, [1] = 0xAA, [2] = 0xC6, [3] = 0x13, [0x1C] = 0xFF, [0x1D] = 0x00,
};

/* ---- STM32U5-like: skips dfuDNBUSY after special commands (layout [inf]) ----------- */
static const struct sim_run u5_flash_runs[] = { RUN(256, 3, 8, 2, 'K', 'g') };
static const struct sim_run u5_ram_runs[] = { RUN(1, 0, 768, 0, 'K', 'e') };
static const struct sim_group u5_flash = GROUP(0x08000000, SIM_REGION_FLASH, u5_flash_runs);
static const struct sim_group u5_ram = GROUP(0x20000000, SIM_REGION_RAM, u5_ram_runs);
static const struct sim_group *const g_u5_flash[] = { &u5_flash };
static const struct sim_alt u5_alts[] = { ALT("Internal Flash   ", g_u5_flash) };
static const struct sim_group *const u5_mem[] = { &u5_flash, &u5_ram, &h7_sys };

/* ---- GigaDevice GD32VF103CB: advertises 2 KiB pages, has 1 KiB ones ------------------ */
static const struct sim_run gd32_flash_adv_runs[] = { RUN(512, 3, 2, 3, 'K', 'g') };
static const struct sim_run gd32_flash_runs[] = { RUN(128, 3, 1, 3, 'K', 'g') };
static const struct sim_run gd32_ram_runs[] = { RUN(1, 0, 32, 0, 'K', 'e') };
static const struct sim_group gd32_flash_adv =
	GROUP(0x08000000, SIM_REGION_FLASH, gd32_flash_adv_runs);
static const struct sim_group gd32_flash = GROUP(0x08000000, SIM_REGION_FLASH, gd32_flash_runs);
static const struct sim_group gd32_ram = GROUP(0x20000000, SIM_REGION_RAM, gd32_ram_runs);
static const struct sim_group *const g_gd32_flash[] = { &gd32_flash_adv };
static const struct sim_alt gd32_alts[] = {
	ALT("Internal Flash  ", g_gd32_flash),
	ALT("Option Bytes  ", g_f1_ob_g),
};
static const struct sim_group *const gd32_mem[] = { &gd32_flash, &f1_ob_g, &gd32_ram, &f1_sys };

/* ---- Particle Photon (STM32F205, custom DfuSe bootloader) --------------------------- */
static const struct sim_run photon_flash_runs[] = {
	RUN(3, 2, 16, 3, 'K', 'a'), RUN(1, 2, 16, 3, 'K', 'g'), RUN(1, 2, 64, 3, 'K', 'g'),
	RUN(7, 2, 128, 3, 'K', 'g'),
};
static const struct sim_run photon_dct_runs[] = { RUN(1, 2, 16, 3, 'K', 'g') };
static const struct sim_group photon_flash = GROUP(0x08000000, SIM_REGION_FLASH, photon_flash_runs);
static const struct sim_group photon_dct = GROUP(0x00000000, SIM_REGION_FLASH, photon_dct_runs);
static const struct sim_group *const g_photon_flash[] = { &photon_flash };
static const struct sim_group *const g_photon_dct[] = { &photon_dct };
static const struct sim_alt photon_alts[] = {
	ALT("Internal Flash   ", g_photon_flash),
	ALT("DCT Flash   ", g_photon_dct),
};
static const struct sim_group *const photon_mem[] = { &photon_flash, &photon_dct, &f4_ram };

/* ---- ST HAL "DFU IAP" example on an F4 (usbd_dfu.c) ------------------------------------ */
static const struct sim_alt hal_alts[] = { ALT("Internal Flash   ", g_photon_flash) };
static const struct sim_group *const hal_mem[] = { &photon_flash, &f4_ram };

/* ---- generic DFU 1.1 device with a run-time interface (tinyusb-like) ------------------ */
static const struct sim_run generic_flash_runs[] = { RUN(128, 0, 1, 0, 'K', 'g') };
static const struct sim_group generic_flash =
	GROUP(0x00000000, SIM_REGION_FLASH, generic_flash_runs);
static const struct sim_alt generic_alts[] = {
	{ .name = "Firmware", .groups = NULL, .n_groups = 0 },
};
static const struct sim_group *const generic_mem[] = { &generic_flash };

/* ---- STM32duino (Maple) bootloader 2.0 on a Blue Pill, STM32F103C8 -------------------
 * Modelled from the public source of rogerclarkmelbourne/STM32duino-bootloader (master:
 * usb_descriptor.c, config.h, dfu.c, usb.c, main.c, hardware.c), which keeps LeafLabs'
 * maple-bootloader state machine:
 *  - 1eaf:0003, bcdDevice 0x0201, bcdUSB 0x0100, strings "LeafLabs", "Maple 003",
 *    "LLM 003"; plain DFU 1.1 (bcdDFUVersion 0x0110), bmAttributes 0x03 (download and
 *    upload; neither manifestation tolerant nor will-detach), wDetachTimeOut 255,
 *    wTransferSize = the flash page size (1024 below 128 KiB of flash).
 *  - three alts: 0 refuses DNLOAD and UPLOAD (dfuERROR/errWRITE, request stalled), 1
 *    writes from 0x08005000 and first erases the page at 0x08002000, 2 writes from
 *    0x08002000.  Blocks go one after the other whatever their wValue, each into a freshly
 *    erased page; the write happens inside the GET_STATUS that follows, answered
 *    dfuDNLOAD-IDLE with bwPollTimeout 0 (never dfuDNBUSY).
 *  - the zero-length DNLOAD goes to dfuMANIFEST-SYNC and the next GET_STATUS answers
 *    dfuMANIFEST-WAIT-RESET; the device then waits for a USB reset.
 *  - a USB reset in dfuIDLE does nothing; in any other state the chip resets, and the
 *    bootloader starts the image at 0x08002000 if its initial stack pointer is in RAM,
 *    else the one at 0x08005000, else stays in DFU mode.  An STM32duino sketch shows up as
 *    a USB serial port (1eaf:0004), no DFU interface.
 *  - an UPLOAD reads from the alt's base to the end of the flash, programmed or not.
 * The `dfu-util -l` lines match a capture in STM32duino-bootloader issue 118, and a
 * stm32duino.com forum log shows dfuMANIFEST-WAIT-RESET and the host's reset.
 * Not modelled: the button and the BOOTLOADER_WAIT window in which a board with a valid
 * image also shows the DFU interface after power-on (here it boots the image at once);
 * the configuration's bus-powered bmAttributes; the older LeafLabs bootloader (bcdDevice
 * 0x0200, alt 1 at 0x08005000 only).  The sketch's identity is [inf]. */
static const struct sim_run maple_flash_runs[] = { RUN(64, 0, 1, 0, 'K', 'g') };
static const struct sim_run maple_ram_runs[] = { RUN(1, 0, 20, 0, 'K', 'e') };
static const struct sim_group maple_flash = GROUP(0x08000000, SIM_REGION_FLASH, maple_flash_runs);
static const struct sim_group maple_ram = GROUP(0x20000000, SIM_REGION_RAM, maple_ram_runs);
static const struct sim_alt maple_alts[] = {
	{ .name = "STM32duino bootloader v1.0  ERROR. Upload to RAM not supported.",
	  .target = SIM_ALT_REFUSED },
	{ .name = "STM32duino bootloader v1.0  Upload to Flash 0x8005000",
	  .target = SIM_ALT_AT_BASE, .base = 0x08005000, .erase_at_start = 0x08002000 },
	{ .name = "STM32duino bootloader v1.0  Upload to Flash 0x8002000",
	  .target = SIM_ALT_AT_BASE, .base = 0x08002000 },
};
static const struct sim_group *const maple_mem[] = { &maple_flash, &maple_ram };

#define GENERIC_COMMON                                                                             \
	.vid = 0xCAFE, .pid = 0x4000, .bcd_device = 0x0100, .bcd_usb = 0x0200,                    \
	.manufacturer = "TinyUSB", .product = "TinyUSB DFU", .serial = "123456",                   \
	.detach_timeout = 1000, .transfer_size = 64, .bcd_dfu = 0x0110, .fd_length = 9,            \
	.dfuse = false, .alts = generic_alts, .n_alts = ARRAY_SIZE(generic_alts),                  \
	.memory = generic_mem, .n_memory = ARRAY_SIZE(generic_mem), .family = SIM_FAM_GENERIC,     \
	.flash_base = 0, .busy = SIM_BUSY_STRICT, .clr = SIM_CLR_STRICT,                           \
	.leave = SIM_LEAVE_ANSWER_THEN_VANISH, .jump = SIM_JUMP_SYSTEM_RESET,                      \
	.oversize = SIM_OVERSIZE_STALL, .initial_state = 2, .ob_rdp_offset = -1,                   \
	.ob_wrp_offset = -1, .app_vid = 0xCAFE, .app_pid = 0x4001, .app_bcd_device = 0x0100,       \
	.app_product = "TinyUSB DFU Runtime", .app_bcd_dfu = 0x0110, .starts_in_runtime = true,    \
	.manifest_ms = 50

static const struct sim_profile profiles[] = {
	{
		.name = "stm32f405",
		.description = "STM32F405/F415 ROM bootloader, newer ROM (bcdDevice 0x2200, OB/OTP type e)",
		F4_COMMON, .bcd_device = 0x2200,
		.alts = f4_alts_new, .n_alts = ARRAY_SIZE(f4_alts_new),
		.memory = f4_mem_new, .n_memory = ARRAY_SIZE(f4_mem_new),
	},
	{
		.name = "stm32f407",
		.description = "STM32F407/F417 ROM bootloader, newer ROM (bcdDevice 0x2200)",
		F4_COMMON, .bcd_device = 0x2200,
		.alts = f4_alts_new, .n_alts = ARRAY_SIZE(f4_alts_new),
		.memory = f4_mem_new, .n_memory = ARRAY_SIZE(f4_mem_new),
	},
	{
		.name = "stm32f407-oldrom",
		.description = "STM32F407 Discovery, early ROM (bcdDevice 0x2100, OB/OTP type g)",
		F4_COMMON, .bcd_device = 0x2100,
		.alts = f4_alts_old, .n_alts = ARRAY_SIZE(f4_alts_old),
		.memory = f4_mem_old, .n_memory = ARRAY_SIZE(f4_mem_old),
	},
	{
		.name = "stm32f107",
		.description = "STM32F105/F107 connectivity line ROM (AN2662), 2 KiB pages",
		ST_ROM, .bcd_device = 0x2000, .bcd_usb = 0x0100,
		.product = "STM32 0x418 DFU Bootloader", .serial = "STM32", .transfer_size = 2048,
		.alts = f107_alts, .n_alts = ARRAY_SIZE(f107_alts),
		.memory = f107_mem, .n_memory = ARRAY_SIZE(f107_mem), .family = SIM_FAM_F1,
		.busy = SIM_BUSY_NAK, .leave = SIM_LEAVE_ANSWER_THEN_VANISH,
		.jump = SIM_JUMP_VECTOR_TABLE,
		.ob_base = 0x1FFFF800, .ob_rdp_offset = 0, .ob_rdp_level0 = 0xA5, .ob_wrp_offset = -1,
		.ob_default = f1_ob_default,
	},
	{
		.name = "stm32f072",
		.description = "STM32F072 ROM; stalls GET_STATUS polled before the erase ends (openmv 1508)",
		ST_ROM, .bcd_device = 0x2200, .bcd_usb = 0x0200,
		.product = "STM32  BOOTLOADER", .serial = "FFFFFFFEFFFF", .transfer_size = 2048,
		.alts = f072_alts, .n_alts = ARRAY_SIZE(f072_alts),
		.memory = f072_mem, .n_memory = ARRAY_SIZE(f072_mem), .family = SIM_FAM_F1,
		.busy = SIM_BUSY_STALL, .leave = SIM_LEAVE_ANSWER_THEN_VANISH,
		.jump = SIM_JUMP_VECTOR_TABLE,
		.ob_base = 0x1FFFF800, .ob_rdp_offset = 0, .ob_rdp_level0 = 0xAA, .ob_wrp_offset = -1,
		.ob_default = f0_ob_default,
	},
	{
		.name = "stm32l476",
		.description = "STM32L476xE (512 KiB) ROM; 64-bit ECC program-once, may stall early polls",
		ST_ROM, .bcd_device = 0x2200, .bcd_usb = 0x0200,
		.product = "STM32  BOOTLOADER", .serial = "206B39763233", .transfer_size = 2048,
		.alts = l4_alts, .n_alts = ARRAY_SIZE(l4_alts),
		.memory = l4_mem, .n_memory = ARRAY_SIZE(l4_mem), .family = SIM_FAM_L4,
		.busy = SIM_BUSY_STALL, .leave = SIM_LEAVE_ANSWER_THEN_VANISH,
		.jump = SIM_JUMP_VECTOR_TABLE,
		.ob_base = 0x1FFF7800, .ob_rdp_offset = 0, .ob_rdp_level0 = 0xAA, .ob_wrp_offset = -1,
		.ob_default = l4_ob_default,
	},
	{
		.name = "stm32g474",
		.description = "STM32G474 (512 KiB) ROM; wTransferSize 1024, stalls 2048-byte blocks",
		ST_ROM, .bcd_device = 0x0200, .bcd_usb = 0x0200,
		.product = "STM32  BOOTLOADER", .serial = "2059346B5744", .transfer_size = 1024,
		.alts = g4_alts, .n_alts = ARRAY_SIZE(g4_alts),
		.memory = g4_mem, .n_memory = ARRAY_SIZE(g4_mem), .family = SIM_FAM_L4,
		.busy = SIM_BUSY_NAK, .leave = SIM_LEAVE_VANISH_DURING_STATUS,
		.jump = SIM_JUMP_VECTOR_TABLE,
		.ob_base = 0x1FFF7800, .ob_rdp_offset = 0, .ob_rdp_level0 = 0xAA, .ob_wrp_offset = -1,
		.ob_default = l4_ob_default,
	},
	{
		.name = "stm32g0b1",
		.description = "STM32G0B1 ROM: all alts named like the flash, WRP writes silently ignored",
		ST_ROM, .bcd_device = 0x0200, .bcd_usb = 0x0200,
		.product = "DFU in FS Mode", .serial = "206A32865841", .transfer_size = 1024,
		.alts = g0_alts, .n_alts = ARRAY_SIZE(g0_alts),
		.memory = g0_mem, .n_memory = ARRAY_SIZE(g0_mem), .family = SIM_FAM_G0,
		.busy = SIM_BUSY_NAK, .leave = SIM_LEAVE_VANISH_DURING_STATUS,
		.jump = SIM_JUMP_VECTOR_TABLE,
		.ob_base = 0x1FFF7800, .ob_rdp_offset = 0, .ob_rdp_level0 = 0xAA, .ob_wrp_offset = -1,
		.ob_default = g0_ob_default,
	},
	{
		.name = "stm32h743",
		.description = "STM32H743 ROM: entry-point jump, 128 KiB sectors, 256-bit flash words",
		ST_ROM, .bcd_device = 0x0200, .bcd_usb = 0x0200,
		.product = "STM32  BOOTLOADER", .serial = "200364500000", .transfer_size = 1024,
		.alts = h7_alts, .n_alts = ARRAY_SIZE(h7_alts),
		.memory = h7_mem, .n_memory = ARRAY_SIZE(h7_mem), .family = SIM_FAM_H7,
		.busy = SIM_BUSY_NAK, .leave = SIM_LEAVE_VANISH_DURING_STATUS,
		.jump = SIM_JUMP_ENTRY_POINT,
		.ob_base = 0x5200201C, .ob_rdp_offset = 1, .ob_rdp_level0 = 0xAA,
		.ob_wrp_offset = 0x1C, .ob_wrp_bits = 8, .ob_default = h7_ob_default,
	},
	{
		.name = "stm32h753",
		.description = "STM32H753 ROM: as stm32h743 (try leave=stay for ROM V9.0)",
		ST_ROM, .bcd_device = 0x0200, .bcd_usb = 0x0200,
		.product = "STM32  BOOTLOADER", .serial = "2057355E3039", .transfer_size = 1024,
		.alts = h7_alts, .n_alts = ARRAY_SIZE(h7_alts),
		.memory = h7_mem, .n_memory = ARRAY_SIZE(h7_mem), .family = SIM_FAM_H7,
		.busy = SIM_BUSY_NAK, .leave = SIM_LEAVE_VANISH_DURING_STATUS,
		.jump = SIM_JUMP_ENTRY_POINT,
		.ob_base = 0x5200201C, .ob_rdp_offset = 1, .ob_rdp_level0 = 0xAA,
		.ob_wrp_offset = 0x1C, .ob_wrp_bits = 8, .ob_default = h7_ob_default,
	},
	{
		.name = "stm32u5",
		.description = "STM32U5-like ROM: answers dfuDNLOAD-IDLE without dfuDNBUSY after commands",
		ST_ROM, .bcd_device = 0x0200, .bcd_usb = 0x0200,
		.product = "DFU in FS Mode", .serial = "205F37A83335", .transfer_size = 1024,
		.alts = u5_alts, .n_alts = ARRAY_SIZE(u5_alts),
		.memory = u5_mem, .n_memory = ARRAY_SIZE(u5_mem), .family = SIM_FAM_U5,
		.busy = SIM_BUSY_NAK, .leave = SIM_LEAVE_VANISH_DURING_STATUS,
		.jump = SIM_JUMP_VECTOR_TABLE, .skip_dnbusy = true,
		.ob_rdp_offset = -1, .ob_wrp_offset = -1,
	},
	{
		.name = "gd32vf103",
		.description = "GigaDevice GD32VF103CB ROM: wrong page size, UTF-8 serial, "
			"starts in errFIRMWARE, leaves before GET_STATUS",
		.vid = 0x28E9, .pid = 0x0189, .bcd_device = 0x1000, .bcd_usb = 0x0200,
		.manufacturer = "GigaDevice", .product = "GD32 DFU Bootloader", .serial = "3CBJ",
		.serial_utf8 = true, DFUSE_COMMON, .transfer_size = 2048, .fd_length = 9,
		.alts = gd32_alts, .n_alts = ARRAY_SIZE(gd32_alts),
		.memory = gd32_mem, .n_memory = ARRAY_SIZE(gd32_mem), .family = SIM_FAM_F1,
		.poll_erase_ms = 100, .poll_other_ms = 104, .poll_set_address_ms = 100,
		.busy = SIM_BUSY_NAK, .leave = SIM_LEAVE_VANISH_BEFORE_STATUS,
		.jump = SIM_JUMP_SYSTEM_RESET, .oversize = SIM_OVERSIZE_STALL,
		.initial_state = 10, .initial_status = 0x0A,
		.commands = cmds_rom, .n_commands = sizeof(cmds_rom),
		.ob_base = 0x1FFFF800, .ob_rdp_offset = 0, .ob_rdp_level0 = 0xA5, .ob_wrp_offset = -1,
		.ob_default = f1_ob_default, .app_base = 0x08000000, .app_riscv = true,
		.app_vid = 0x28E9, .app_pid = 0x018A, .app_bcd_device = 0x0100,
		.app_product = "GD32 Application", .app_fd_attributes = APP_FD_ATTR, .app_bcd_dfu = 0x011A,
	},
	{
		.name = "particle-photon",
		.description = "Particle Photon bootloader 2b04:d006: 7-byte functional descriptor, "
			"read-only bootloader sectors",
		.vid = 0x2B04, .pid = 0xD006, .bcd_device = 0x0200, .bcd_usb = 0x0200,
		.manufacturer = "Particle", .product = "Photon DFU Mode", .serial = "00000000050C",
		DFUSE_COMMON, .transfer_size = 4096, .fd_length = 7,
		.alts = photon_alts, .n_alts = ARRAY_SIZE(photon_alts),
		.memory = photon_mem, .n_memory = ARRAY_SIZE(photon_mem), .family = SIM_FAM_F4,
		.poll_erase_ms = 50, .poll_other_ms = 50, .poll_set_address_ms = 50,
		.busy = SIM_BUSY_NAK, .leave = SIM_LEAVE_VANISH_DURING_STATUS,
		.jump = SIM_JUMP_SYSTEM_RESET, .oversize = SIM_OVERSIZE_TRUNCATE,
		.initial_state = 2, .commands = cmds_hal, .n_commands = sizeof(cmds_hal),
		.ob_rdp_offset = -1, .ob_wrp_offset = -1, .app_base = 0x08020000,
		.app_vid = 0x2B04, .app_pid = 0xC006, .app_bcd_device = 0x0250,
		.app_product = "Photon", .app_fd_attributes = APP_FD_ATTR, .app_bcd_dfu = 0x011A,
	},
	{
		.name = "stm32-hal-iap",
		.description = "ST HAL DFU IAP example on an F4: 50/50 ms polls, system reset into 0x08008000",
		ST_IDENTITY, .bcd_device = 0x0200, .bcd_usb = 0x0200,
		.product = "STM32 DOWNLOAD FIRMWARE UPDATE", .serial = "00000000001A",
		DFUSE_COMMON, .transfer_size = 1024, .fd_length = 9,
		.alts = hal_alts, .n_alts = ARRAY_SIZE(hal_alts),
		.memory = hal_mem, .n_memory = ARRAY_SIZE(hal_mem), .family = SIM_FAM_F4,
		.poll_erase_ms = 50, .poll_other_ms = 50, .poll_set_address_ms = 50,
		.busy = SIM_BUSY_NAK, .leave = SIM_LEAVE_VANISH_DURING_STATUS,
		.jump = SIM_JUMP_SYSTEM_RESET, .oversize = SIM_OVERSIZE_TRUNCATE,
		.initial_state = 2, .commands = cmds_hal, .n_commands = sizeof(cmds_hal),
		.ob_rdp_offset = -1, .ob_wrp_offset = -1, .app_base = 0x08008000, ST_APP,
	},
	{
		.name = "maple",
		.description = "STM32duino/Maple bootloader 2.0 (1eaf:0003) on a Blue Pill: "
			"plain DFU, alt 2 writes 0x08002000, a USB reset starts the sketch",
		.vid = 0x1EAF, .pid = 0x0003, .bcd_device = 0x0201, .bcd_usb = 0x0100,
		.manufacturer = "LeafLabs", .product = "Maple 003", .serial = "LLM 003",
		.fd_attributes = 0x03, .detach_timeout = 255, .transfer_size = 1024,
		.bcd_dfu = 0x0110, .fd_length = 9, .dfuse = false,
		.alts = maple_alts, .n_alts = ARRAY_SIZE(maple_alts),
		.memory = maple_mem, .n_memory = ARRAY_SIZE(maple_mem), .family = SIM_FAM_F1,
		.flash_base = 0x08000000, .busy = SIM_BUSY_NAK, .clr = SIM_CLR_STRICT,
		.leave = SIM_LEAVE_ANSWER_THEN_VANISH, .jump = SIM_JUMP_VECTOR_TABLE,
		.oversize = SIM_OVERSIZE_STALL, .skip_dnbusy = true, .initial_state = 2,
		.ob_rdp_offset = -1, .ob_wrp_offset = -1,
		.app_base = 0x08002000, .app_base_fallback = 0x08005000, .app_gone = true,
		.app_vid = 0x1EAF, .app_pid = 0x0004, .app_bcd_device = 0x0200,
		.app_product = "Maple",
	},
	{
		.name = "generic",
		.description = "Generic DFU 1.1 device with a run-time interface (cafe:4001 -> cafe:4000), "
			"manifestation tolerant, bitWillDetach",
		GENERIC_COMMON,
		.fd_attributes = 0x0f, .app_fd_attributes = 0x0f,
	},
	{
		.name = "generic-intolerant",
		.description = "Generic DFU 1.1 device, not manifestation tolerant, "
			"no bitWillDetach (host must reset)",
		GENERIC_COMMON,
		.fd_attributes = 0x03, .app_fd_attributes = 0x03,
	},
};
/* clang-format on */

const struct sim_profile *sim_profile_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(profiles); i++)
		if (strcmp(profiles[i].name, name) == 0)
			return &profiles[i];
	return NULL;
}

const char *const *sim_profile_names(void)
{
	static const char *const names[] = {
		"stm32f405",
		"stm32f407",
		"stm32f407-oldrom",
		"stm32f107",
		"stm32f072",
		"stm32l476",
		"stm32g474",
		"stm32g0b1",
		"stm32h743",
		"stm32h753",
		"stm32u5",
		"gd32vf103",
		"particle-photon",
		"stm32-hal-iap",
		"maple",
		"generic",
		"generic-intolerant",
		NULL,
	};
	_Static_assert(ARRAY_SIZE(names) == ARRAY_SIZE(profiles) + 1,
		       "profile name list out of date");
	return names;
}

const char *sim_profile_description(const char *name)
{
	const struct sim_profile *p = sim_profile_find(name);

	return p ? p->description : NULL;
}

uint32_t sim_run_unit(const struct sim_run *r)
{
	switch (r->mult) {
	case 'K':
		return (uint32_t)r->size * 1024u;
	case 'M':
		return (uint32_t)r->size * 1024u * 1024u;
	default:
		return r->size;
	}
}

uint32_t sim_group_size(const struct sim_group *g)
{
	uint32_t n = 0;

	for (unsigned i = 0; i < g->n_runs; i++)
		n += g->runs[i].count * sim_run_unit(&g->runs[i]);
	return n;
}

/* UM0424 §4.3.2: "@name/0xADDR/N*SIZEmt,..." with ST's padding kept byte for byte. */
int sim_alt_format(const struct sim_alt *alt, char *buf, size_t cap)
{
	size_t len = 0;
	int n;

#define APPEND(...)                                                                                \
	do {                                                                                       \
		n = snprintf(buf + MIN(len, cap), cap > len ? cap - len : 0, __VA_ARGS__);         \
		if (n < 0)                                                                         \
			return n;                                                                  \
		len += (size_t)n;                                                                  \
	} while (0)

	if (cap)
		buf[0] = '\0';
	if (alt->n_groups == 0) {
		/* a generic DFU alt: a plain name, no layout */
		APPEND("%s", alt->name);
		return (int)len;
	}
	APPEND("@%s", alt->name);
	for (unsigned g = 0; g < alt->n_groups; g++) {
		const struct sim_group *grp = alt->groups[g];

		APPEND("/0x%08X/", (unsigned)grp->address);
		for (unsigned r = 0; r < grp->n_runs; r++) {
			const struct sim_run *run = &grp->runs[r];

			APPEND("%s%0*u*%0*u%c%c", r ? "," : "", run->count_width,
			       (unsigned)run->count, run->size_width, (unsigned)run->size,
			       run->mult, run->type);
		}
	}
#undef APPEND
	return (int)len;
}
