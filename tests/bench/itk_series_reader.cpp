// Baseline for bench_series_load.py: ITK's documented way to read a DICOM series, with default
// settings (GDCMSeriesFileNames + ImageSeriesReader + GDCMImageIO). Prints the size so the work
// cannot be skipped.

#include <itkGDCMImageIO.h>
#include <itkGDCMSeriesFileNames.h>
#include <itkImage.h>
#include <itkImageSeriesReader.h>

#include <iostream>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: itk_series_reader FOLDER\n";
        return 2;
    }
    using ImageType = itk::Image<short, 3>;
    auto names = itk::GDCMSeriesFileNames::New();
    names->SetDirectory(argv[1]);
    const auto uids = names->GetSeriesUIDs();
    if (uids.empty()) {
        std::cerr << "no series in " << argv[1] << "\n";
        return 1;
    }
    auto reader = itk::ImageSeriesReader<ImageType>::New();
    reader->SetImageIO(itk::GDCMImageIO::New());
    reader->SetFileNames(names->GetFileNames(uids.front()));
    try {
        reader->Update();
    } catch (const itk::ExceptionObject& e) {
        std::cerr << e.GetDescription() << "\n";
        return 1;
    }
    std::cout << reader->GetOutput()->GetLargestPossibleRegion().GetSize() << "\n";
    return 0;
}
