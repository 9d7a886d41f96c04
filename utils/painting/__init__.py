"""LiDAR painting (PointPainting): project Velodyne points into the segmented camera image, decorate them
with the class scores there, cluster the object classes into a prior for point-cloud clustering.

layouts.py recognises the KITTI layout (road, object benchmark, raw recording) and lists its frames;
point_files.py reads and writes the point files; paint.py paints one scan;
clusters.py runs DBSCAN per object class; scoring.py measures painted labels and clusters against
the true point labels; pictures.py draws the camera and bird's-eye views; run.py is paint_points.py's loop.
"""
