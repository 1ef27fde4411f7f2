/*
 * A stand-in for Windows' bcryptprimitives.dll, for running Go Windows
 * binaries under Wine 8.0 ('make wintest').
 *
 * Go 1.22+ draws its random bytes from bcryptprimitives.dll!ProcessPrng and
 * aborts at start when the DLL is missing; Wine 8.0 does not ship it (later
 * Wine does). This DLL exports only ProcessPrng, over advapi32's RtlGenRandom
 * (SystemFunction036), which Wine has. It is copied into the Wine prefix's
 * system32, never shipped and never used on real Windows.
 *
 * Built by the Makefile with mingw-w64:
 *   x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll \
 *     bcryptprimitives.c bcryptprimitives.def -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* ProcessPrng fills data with size random bytes; it returns TRUE, as the
 * real one does (Go treats a FALSE as fatal). RtlGenRandom takes a ULONG
 * length, so larger requests are filled in pieces. */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size)
{
	while (size > 0) {
		ULONG n = size > 0x10000000 ? 0x10000000 : (ULONG)size;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		size -= n;
	}
	return TRUE;
}
